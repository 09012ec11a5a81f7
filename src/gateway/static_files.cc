#include "gateway/static_files.h"

#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "http/gzip.h"

namespace hangar::gateway {

namespace {
constexpr size_t kMaxTotalBytes = 64u << 20;

std::string ContentTypeOf(const std::filesystem::path& path) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".map", "application/json"},
      {".txt", "text/plain; charset=utf-8"}};
  auto it = kTypes.find(path.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}
}  // namespace

Result<StaticFiles> StaticFiles::Load(const std::filesystem::path& root) {
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) {
    return std::unexpected(Error::NotFound("web directory " + root.string() + " does not exist"));
  }
  StaticFiles out;
  size_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root, ec)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    File file{buffer.str(), "", ContentTypeOf(entry.path()), ""};
    total += file.content.size();
    if (total > kMaxTotalBytes) {
      return std::unexpected(Error::Invalid("web directory " + root.string() + " exceeds 64 MiB"));
    }
    file.etag = "\"" + Sha256Hex(file.content).substr(0, 32) + "\"";
    bool compressible = file.content_type.starts_with("text/") ||
                        file.content_type.starts_with("application/json") ||
                        file.content_type.starts_with("image/svg");
    if (compressible && file.content.size() >= 1024) {
      if (auto gz = http::GzipCompress(file.content)) file.gzipped = std::move(*gz);
    }
    out.files_.emplace(std::filesystem::relative(entry.path(), root).generic_string(),
                       std::move(file));
  }
  return out;
}

Result<http::Response> StaticFiles::Serve(const RequestContext& ctx,
                                          const std::string& relative) const {
  auto it = files_.find(relative);
  if (it == files_.end()) return std::unexpected(Error::NotFound("no such file: " + relative));
  const File& file = it->second;
  const auto& request = ctx.request();
  http::Response response{http::bhttp::status::ok, request.version()};
  response.set(http::bhttp::field::content_type, file.content_type);
  response.set(http::bhttp::field::etag, file.etag);
  response.set(http::bhttp::field::cache_control, "public, max-age=300");
  auto accept = request.find(http::bhttp::field::accept_encoding);
  if (!file.gzipped.empty() && accept != request.end() && http::AcceptsGzip(accept->value())) {
    response.set(http::bhttp::field::content_encoding, "gzip");
    response.set(http::bhttp::field::vary, "Accept-Encoding");
    response.body() = file.gzipped;
  } else {
    response.body() = file.content;
  }
  response.prepare_payload();
  return response;
}

}  // namespace hangar::gateway
