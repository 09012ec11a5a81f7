// Test support: a fixture that runs a real hangard on 127.0.0.1 with a fresh data directory and
// port 0, waits until /readyz answers, and knows the bootstrap admin key.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <memory>

#include "support/http_client.h"
#include "support/process.h"

namespace hangar::testing {

class HangardFixture : public ::testing::Test {
 protected:
  // Extra hangard flags for a test (set before SetUp runs, e.g. in the constructor).
  std::vector<std::string> extra_flags_;

  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("hangar-it-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
            std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // CTest registers every integration test twice: on SQLite, and with HANGAR_IT_BACKEND=postgres
    // on a fresh database of the server scripts/test.sh starts.
    if (const char* backend = std::getenv("HANGAR_IT_BACKEND");
        backend && std::string_view(backend) == "postgres") {
      const char* server = std::getenv("HANGAR_TEST_POSTGRES_URL");
      if (server == nullptr || *server == '\0') {
        GTEST_SKIP() << "HANGAR_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)";
      }
      ASSERT_TRUE(CreateDatabase(server));
    }
    StartHangard();
  }

  void TearDown() override {
    if (HasFailure() && hangard_) std::cerr << "---- hangard log ----\n" << hangard_->Log();
    hangard_.reset();
    KillWorkloadsLeftIn(dir_);
    if (!database_.empty()) AdminSql("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    std::filesystem::remove_all(dir_);
  }

  // Agents outlive nothing (their Process kills them) but the runs they started do, by design:
  // an agent restart must find them. A test's runs work in directories under `dir`, so what
  // still has its working directory there belongs to this test and is killed.
  static void KillWorkloadsLeftIn(const std::filesystem::path& dir) {
    std::error_code ec;
    const std::string prefix = dir.string() + "/";
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string pid = entry.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      auto cwd = std::filesystem::read_symlink(entry.path() / "cwd", ec);
      if (ec || !(cwd.string() + "/").starts_with(prefix)) continue;
      ::kill(std::stoi(pid), SIGKILL);
    }
  }

  // Creates a database named after this process and test on the server at `server_url`
  // ("postgresql://user@host:port/db") and points database_url_ at it.
  bool CreateDatabase(const std::string& server_url) {
    static int counter = 0;
    server_url_ = server_url;
    database_ = "hangar_it_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    if (!AdminSql("CREATE DATABASE " + database_)) return false;
    database_url_ = server_url.substr(0, server_url.rfind('/') + 1) + database_;
    return true;
  }

  bool AdminSql(const std::string& sql) {
    PGconn* conn = PQconnectdb(server_url_.c_str());
    bool ok = PQstatus(conn) == CONNECTION_OK;
    if (ok) {
      PGresult* res = PQexec(conn, sql.c_str());
      ok = PQresultStatus(res) == PGRES_COMMAND_OK;
      if (!ok) std::cerr << sql << ": " << PQerrorMessage(conn);
      PQclear(res);
    } else {
      std::cerr << "cannot connect to " << server_url_ << ": " << PQerrorMessage(conn);
    }
    PQfinish(conn);
    return ok;
  }

  void StartHangard() {
    std::filesystem::remove(dir_ / "port");
    std::vector<std::string> args = {"--listen",
                                     listen_,
                                     "--port-file",
                                     (dir_ / "port").string(),
                                     "--data-dir",
                                     (dir_ / "data").string(),
                                     "--fleet-heartbeat-interval",
                                     "1s",
                                     "--fleet-node-unreachable-after",
                                     "3s",
                                     "--http-cors-allowed-origins",
                                     "http://portal.test"};
    if (!database_url_.empty()) args.insert(args.end(), {"--database", database_url_});
    for (const auto& f : extra_flags_) args.push_back(f);
    hangard_ = std::make_unique<Process>("hangard", args, dir_ / "hangard.log");
    ASSERT_TRUE(hangard_->started());
    ASSERT_TRUE(WaitFor([&] {
      return std::filesystem::exists(dir_ / "port") && !ReadFile(dir_ / "port").empty();
    })) << hangard_->Log();
    address_ = ReadFile(dir_ / "port");
    while (!address_.empty() && address_.back() == '\n') address_.pop_back();
    admin_key_ = ReadFile(dir_ / "data" / "admin-api-key");
    while (!admin_key_.empty() && admin_key_.back() == '\n') admin_key_.pop_back();
    ASSERT_TRUE(admin_key_.starts_with("hgr_")) << hangard_->Log();
  }

  HttpClient Client() const { return HttpClient(address_); }
  std::string Url() const { return "http://" + address_; }

  // Authenticated shorthands.
  Response Get(const std::string& target,
               std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Client().Send(bhttp::verb::get, target, admin_key_, "", std::move(headers));
  }
  Response Post(const std::string& target, const std::string& body,
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Client().Send(bhttp::verb::post, target, admin_key_, body, std::move(headers));
  }
  static boost::json::value Json(const Response& r) { return boost::json::parse(r.body()); }

  std::filesystem::path dir_;
  // What StartHangard listens on; a test that restarts hangard where its clients expect it sets
  // this to address_ first.
  std::string listen_ = "127.0.0.1:0";
  std::unique_ptr<Process> hangard_;
  std::string address_;
  std::string admin_key_;
  std::string server_url_;    // PostgreSQL runs: the server
  std::string database_;      // PostgreSQL runs: this test's database
  std::string database_url_;  // PostgreSQL runs: what hangard gets as --database
};

}  // namespace hangar::testing
