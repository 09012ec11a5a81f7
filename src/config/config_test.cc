#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace hangar::config {
namespace {

std::filesystem::path WriteTemp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("hangar_config_test_" + name);
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, LaterSourcesOverrideEarlierOnes) {
  auto cfg = BuildConfig({{"log.level", "debug", "file"},
                          {"listen", "127.0.0.1:9000", "file"},
                          {"log.level", "warn", "flag"}});
  ASSERT_TRUE(cfg.has_value()) << cfg.error().ToString();
  EXPECT_EQ(cfg->log_level, "warn");
  EXPECT_EQ(cfg->listen, "127.0.0.1:9000");
  EXPECT_EQ(cfg->database, "sqlite:.hangar/hangar.db");
}

TEST(ConfigTest, BadValuesNameTheSettingAndSource) {
  auto cfg =
      BuildConfig({{"http.idle_timeout", "forever", "environment HANGAR_HTTP_IDLE_TIMEOUT"}});
  ASSERT_FALSE(cfg.has_value());
  EXPECT_NE(cfg.error().message().find("http.idle_timeout"), std::string::npos);
  EXPECT_NE(cfg.error().message().find("HANGAR_HTTP_IDLE_TIMEOUT"), std::string::npos);
  EXPECT_FALSE(BuildConfig({{"listen", "nohostport", "flag"}}).has_value());
  EXPECT_FALSE(BuildConfig({{"database", "mysql://x", "flag"}}).has_value());
  EXPECT_FALSE(BuildConfig({{"clock_start", "yesterday", "flag"}}).has_value());
  auto clock = BuildConfig({{"clock_start", "2026-01-05T09:59:57Z", "flag"}});
  ASSERT_TRUE(clock.has_value()) << clock.error().ToString();
  EXPECT_EQ(clock->clock_start, "2026-01-05T09:59:57Z");
  EXPECT_FALSE(BuildConfig({{"fleet.heartbeat_interval", "1m", "flag"},
                            {"fleet.node_unreachable_after", "30s", "flag"}})
                   .has_value());
}

TEST(ConfigTest, InstanceLifetimesMustBeOrdered) {
  auto cfg = BuildConfig({{"instances.min_lifetime", "2s", "flag"},
                          {"instances.default_lifetime", "1h", "flag"},
                          {"instances.expiry_warning", "5m", "flag"}});
  ASSERT_TRUE(cfg.has_value()) << cfg.error().ToString();
  EXPECT_EQ(cfg->instance_min_lifetime, std::chrono::seconds(2));
  EXPECT_EQ(cfg->instance_default_lifetime, std::chrono::hours(1));
  EXPECT_EQ(cfg->instance_expiry_warning, std::chrono::minutes(5));
  auto bad = BuildConfig({{"instances.default_lifetime", "30s", "flag"}});  // under the 60 s min
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().violations().at(0).pointer, "instances.default_lifetime");
  EXPECT_FALSE(BuildConfig({{"instances.max_lease", "1h", "flag"}}).has_value());  // < 8 h default
}

TEST(ConfigTest, YamlFilesAreFlattenedAndUnknownKeysRejected) {
  auto good = ReadYamlFile(WriteTemp("good.yaml",
                                     "listen: 0.0.0.0:8080\nlog:\n  level: debug\n"
                                     "http:\n  cors_allowed_origins: [http://a, http://b]\n"));
  ASSERT_TRUE(good.has_value()) << good.error().ToString();
  auto cfg = BuildConfig(*good);
  ASSERT_TRUE(cfg.has_value());
  EXPECT_EQ(cfg->log_level, "debug");
  EXPECT_EQ(cfg->cors_allowed_origins, (std::vector<std::string>{"http://a", "http://b"}));

  auto bad = ReadYamlFile(WriteTemp("bad.yaml", "log:\n  levle: debug\n"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("log.levle"), std::string::npos);
  EXPECT_FALSE(ReadYamlFile("/nonexistent/hangar.yaml").has_value());
}

TEST(ConfigTest, EnvironmentUsesHangarPrefixedNames) {
  std::string a = "HANGAR_LOG_LEVEL=error", b = "HANGAR_HTTP_IO_THREADS=3", c = "OTHER=1";
  char* env[] = {a.data(), b.data(), c.data(), nullptr};
  auto values = ReadEnvironment(env);
  auto cfg = BuildConfig(values);
  ASSERT_TRUE(cfg.has_value());
  EXPECT_EQ(cfg->log_level, "error");
  EXPECT_EQ(cfg->io_threads, 3);
  EXPECT_EQ(EnvNameOf("fleet.node_unreachable_after"), "HANGAR_FLEET_NODE_UNREACHABLE_AFTER");
  EXPECT_EQ(FlagNameOf("fleet.node_unreachable_after"), "--fleet-node-unreachable-after");
}

TEST(ConfigTest, DurationsAndListenAddresses) {
  EXPECT_EQ(ParseDuration("250ms"), Micros(250'000));
  EXPECT_EQ(ParseDuration("2m"), Micros(120'000'000));
  EXPECT_FALSE(ParseDuration("2").has_value());
  EXPECT_FALSE(ParseDuration("-1s").has_value());
  EXPECT_FALSE(ParseDuration("200000000000h").has_value());  // would overflow
  EXPECT_FALSE(ParseDuration("5w").has_value());
  EXPECT_EQ(ParseListen("[::1]:0")->first, "::1");
  EXPECT_EQ(ParseListen(":8080")->first, "0.0.0.0");
  EXPECT_FALSE(ParseListen("host:99999").has_value());
}

}  // namespace
}  // namespace hangar::config
