// The `hangar` command line: every command, its flags and what it calls, built on CLI11 over
// client::ApiClient. apps/hangar/main.cc only hands it argv, the streams and the environment.
//
// Commands: gpus list|get, nodes list|get|cordon|uncordon|label, gpu-types list|create,
// join-tokens create|list|delete, config set-context|use-context|get-contexts|current-context,
// version. Exit codes are listed in output.h and docs/cli.md.
//
// Thread-safety: RunCli runs one command on the calling thread.
#pragma once

#include <ostream>

#include "cli/config.h"

namespace hangar::cli {

// Parses `argv` and runs the command; returns the process exit code.
int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err, const Env& env);

}  // namespace hangar::cli
