// WorkloadFixture: hangard plus what workload tests share — a team and project ("ml" /
// "vision"), a join token, agents with simulated GPUs started on demand, the events of an
// object, and the CLI pointed at the server.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/hangard_fixture.h"

namespace hangar::testing {

class WorkloadFixture : public HangardFixture {
 protected:
  static std::string S(const boost::json::value& v) { return std::string(v.as_string()); }

  void SetUp() override {
    HangardFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto team = Post("/api/v1/teams", R"({"name":"ml"})");
    ASSERT_EQ(team.result_int(), 201u) << team.body();
    auto project = Post("/api/v1/projects",
                        R"({"name":"vision","team_id":")" + S(Json(team).at("id")) + R"("})");
    ASSERT_EQ(project.result_int(), 201u) << project.body();
    project_ = S(Json(project).at("id"));
    auto token = Post("/api/v1/nodes/join-tokens", R"({"description":"e2e"})");
    ASSERT_EQ(token.result_int(), 201u);
    join_token_ = S(Json(token).at("token"));
  }

  // An agent named `name` with simulated GPUs (`spec`: "4xH100-80GB"), once its node is ready.
  std::unique_ptr<Process> StartAgent(const std::string& name, const std::string& spec) {
    auto agent = std::make_unique<Process>(
        "hangar-agent",
        std::vector<std::string>{"--server", Url(), "--join-token", join_token_, "--simulate", spec,
                                 "--name", name, "--state-dir",
                                 (dir_ / ("agent-" + name)).string()},
        dir_ / ("agent-" + name + ".log"));
    EXPECT_TRUE(agent->started());
    EXPECT_TRUE(WaitFor([&] {
      auto nodes = Json(Get("/api/v1/nodes?name=" + name)).at("items").as_array();
      return !nodes.empty() && S(nodes[0].at("state")) == "ready";
    })) << agent->Log();
    return agent;
  }

  // The types of the events about `subject`, oldest first.
  std::vector<std::string> EventTypes(const std::string& subject) {
    std::vector<std::string> types;
    auto events = Json(Get("/api/v1/events?limit=1000&subject=" + subject)).at("items").as_array();
    for (auto it = events.rbegin(); it != events.rend(); ++it) types.push_back(S(it->at("type")));
    return types;
  }

  RunResult Cli(std::vector<std::string> args) {
    return RunToCompletion(
        "hangar", std::move(args), dir_,
        {"HANGAR_URL=" + Url(), "HANGAR_TOKEN=" + admin_key_, "HOME=" + dir_.string()});
  }

  std::string project_;
  std::string join_token_;
};

}  // namespace hangar::testing
