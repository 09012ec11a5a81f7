// Escaping text for HTML and XML (the server-rendered sign-in pages, hangar-sim's SVG charts).
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>

namespace hangar {

// Escapes &, <, >, " and ' so the text is safe in element content and in quoted attributes of
// both HTML and XML (' becomes &#39;, which both read).
std::string EscapeMarkup(std::string_view text);

}  // namespace hangar
