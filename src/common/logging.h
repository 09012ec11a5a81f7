// Process-wide logging set-up over spdlog: human-readable lines for a terminal, or JSON lines
// (one object per line) for log shippers.
//
// Thread-safety: SetUpLogging must be called once, before other threads start; spdlog's default
// logger is thread-safe afterwards.
#pragma once

#include <string_view>

#include "common/error.h"

namespace hangar {

enum class LogFormat { kText, kJson };

struct LoggingOptions {
  LogFormat format = LogFormat::kText;
  std::string_view level = "info";  // trace, debug, info, warn, error, critical, off
};

// Installs the default logger on stderr. kInvalidArgument names a bad level.
Status SetUpLogging(const LoggingOptions& options);

}  // namespace hangar
