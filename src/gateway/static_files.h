// StaticFiles: a directory of web assets (the /docs page) held in memory, each file also
// pre-compressed with gzip, so serving a 1.5 MB script costs no disk read and no compression
// per request.
//
// Thread-safety: immutable after Load(); Serve() may be called from any thread.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "common/error.h"
#include "gateway/router.h"

namespace hangar::gateway {

class StaticFiles {
 public:
  // Loads every regular file under `root` (at most 64 MiB in all). kNotFound when `root` does
  // not exist.
  static Result<StaticFiles> Load(const std::filesystem::path& root);

  // The file at `relative` ("index.html", "assets/app.js"); kNotFound when absent. Honours
  // Accept-Encoding and If-None-Match (the ETag is a hash of the content).
  Result<http::Response> Serve(const RequestContext& ctx, const std::string& relative) const;

  size_t size() const { return files_.size(); }

 private:
  struct File {
    std::string content;
    std::string gzipped;  // empty when compression does not pay
    std::string content_type;
    std::string etag;
  };
  std::map<std::string, File> files_;
};

}  // namespace hangar::gateway
