// The `hangar` command line: every command, its flags and what it calls, built on CLI11 over
// client::ApiClient. apps/hangar/main.cc only hands it argv, the streams and the environment.
//
// Commands: gpus list|get|top, nodes list|get|cordon|uncordon|drain|taint|label, alerts list,
// alerts rules list|get|create|update|delete, metrics gpu|node|project|team,
// gpu-types list|create|update, events list, join-tokens create|list|delete,
// jobs submit|list|get|cancel|hold|release|requeue|logs, whoami, orgs, teams, projects, users,
// service-accounts, api-keys, roles, permissions, role-bindings, access-review, audit list,
// login, logout, config set-context|use-context|get-contexts|current-context, version. Exit codes
// are listed in output.h and docs/cli.md.
//
// Thread-safety: RunCli runs one command on the calling thread.
#pragma once

#include <chrono>
#include <functional>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>

#include "cli/config.h"
#include "common/clock.h"
#include "common/error.h"

namespace hangar::cli {

// The rest of the outside world a command may touch; every member has a real default, tests
// replace them.
struct CliIo {
  std::istream* in = nullptr;    // --api-key-stdin, --password-stdin; default std::cin
  const Clock* clock = nullptr;  // token expiry, the device flow's deadline; default the system
  // Waits between device-flow polls; default std::this_thread::sleep_for.
  std::function<void(std::chrono::seconds)> sleep;
  // Asks for a secret (a password) on the terminal with echo off, the prompt on the error
  // stream; default reads the controlling terminal on standard input.
  std::function<Result<std::string>(std::string_view prompt)> read_secret;
  // Whether standard output is a terminal: `gpus top` redraws in place (ANSI clear screen) only
  // then, and otherwise appends one frame after another. Default isatty(STDOUT_FILENO).
  std::function<bool()> stdout_is_terminal;
};

// Parses `argv` and runs the command; returns the process exit code.
int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err, const Env& env,
           const CliIo& io = {});

}  // namespace hangar::cli
