// Small, readable clusters for the scheduling tests.
#pragma once

#include <string>
#include <vector>

#include "scheduling/model.h"

namespace hangar::scheduling::testing {

// `count` nodes of `gpus` GPUs of type 0 (80 GiB), 64 cores and 512 GiB each.
inline ClusterSnapshot Uniform(int count, int gpus) {
  ClusterSnapshot c;
  c.gpu_types = {"H100-80GB", "T4"};
  c.strings = {"zone", "a", "b"};
  for (int n = 0; n < count; ++n) {
    Node node{.id = "node-" + std::to_string(n),
              .cpu_milli_free = 64000,
              .memory_mib_free = 512 * 1024,
              .cuda_version = 12040};
    node.gpus.assign(gpus, Gpu{.type = 0, .memory_mib = 81920});
    node.labels = {Label{0, n % 2 == 0 ? 1u : 2u}};  // zone a for even nodes, b for odd
    c.nodes.push_back(std::move(node));
  }
  return c;
}

inline Workload Job(std::string id, int gpus, int32_t milli = kWholeGpu, int nodes = 1) {
  Workload w;
  w.id = std::move(id);
  w.request.gpus_per_node = gpus;
  w.request.gpu_milli = milli;
  w.request.nodes = nodes;
  return w;
}

}  // namespace hangar::scheduling::testing
