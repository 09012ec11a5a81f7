// The agent's persistent identity: which node it is and the credential that proves it.
//
// Stored as JSON in `<state dir>/node.json` with mode 0600, because the credential is a secret.
// Writes go to a temporary file that is renamed over the old one, so a crash never leaves a
// half-written state behind.
//
// Thread-safety: plain functions over the file system; callers serialise writes.
#pragma once

#include <boost/describe.hpp>
#include <filesystem>
#include <optional>
#include <string>

#include "common/error.h"

namespace hangar::agent {

struct AgentState {
  std::string server_url;  // the server this node registered with
  std::string node_id;     // "node_…"
  std::string node_name;
  std::string credential;  // the node's API credential (secret)
};
BOOST_DESCRIBE_STRUCT(AgentState, (), (server_url, node_id, node_name, credential))

// $XDG_STATE_HOME/hangar-agent, else ~/.local/state/hangar-agent.
std::filesystem::path DefaultStateDir();

// The saved state, nullopt when there is none. kInvalidArgument when the file is corrupt (it
// names the file so an operator can delete it); kUnavailable when it cannot be read.
Result<std::optional<AgentState>> LoadState(const std::filesystem::path& dir);

// Creates `dir` (0700) if needed and atomically writes the state with mode 0600.
Status SaveState(const std::filesystem::path& dir, const AgentState& state);

// Removes the state file (after the server revoked the credential). Absent is fine.
Status ClearState(const std::filesystem::path& dir);

}  // namespace hangar::agent
