// GPU topology for placement: which of a node's GPUs share an NVLink domain, from the NVLink
// peers (PCI bus ids) the node's agent reported for each GPU.
#pragma once

#include <cstdint>
#include <vector>

#include "store/repos.h"

namespace hangar::workloads {

// Parallel to `gpus` (one node's): GPUs joined by reported NVLink peers, directly or through
// others, share a domain numbered from 1 (at most 255); a GPU with no peer among them is 0,
// "unknown", as scheduling::Gpu::nvlink_domain expects. Peers that are not GPUs of this node
// (an NVSwitch, a bus id the node did not report) are ignored.
std::vector<uint8_t> NvlinkDomains(const std::vector<const store::GpuRecord*>& gpus);

}  // namespace hangar::workloads
