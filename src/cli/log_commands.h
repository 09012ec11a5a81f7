// Logs in the CLI (internal to src/cli/): following a workload's output live, shared by
// `hangar jobs logs -f` and `hangar instances logs -f`, and `hangar logs search`.
//
// Thread-safety: as Session (one invocation, the calling thread).
#pragma once

#include <string>

#include "cli/session.h"

namespace hangar::cli {

// Prints the output of the workload whose logs route is `logs_path` ("/api/v1/jobs/ID/logs")
// as it is produced, over Server-Sent Events, until the workload reaches a final state. Only
// `stream` ("stdout", "stderr") when it is not empty. A connection that drops (hangard
// restarting) is resumed after the last chunk printed (Last-Event-ID), so nothing is printed
// twice or missed; it gives up after a few failed reconnections.
client::ApiResult<std::string> FollowLogs(Session& s, client::ApiClient& c,
                                          const std::string& logs_path, const std::string& stream);

// `hangar logs search --project P QUERY`.
void AddLogCommands(CLI::App& app, Session& s, Action& action);

}  // namespace hangar::cli
