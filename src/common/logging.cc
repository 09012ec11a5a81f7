#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/json_codec.h"

namespace hangar {

namespace {
// `%*` in the JSON pattern: the message, escaped so each line stays one valid JSON object.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string escaped;
    json::AppendJsonEscaped(escaped, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};
}  // namespace

Status SetUpLogging(const LoggingOptions& options) {
  auto level = spdlog::level::from_str(std::string(options.level));
  if (level == spdlog::level::off && options.level != "off") {
    return std::unexpected(Error::Invalid("unknown log level '" + std::string(options.level) + "'")
                               .Field("log.level", "use trace, debug, info, warn, error or off"));
  }
  auto logger = spdlog::stderr_color_mt("hangar");
  if (options.format == LogFormat::kJson) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","thread":%t,"msg":"%*"})");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return Ok();
}

}  // namespace hangar
