// The clusters hangar-sim packs work onto, as scheduling::ClusterSnapshot values: the 1,523-node
// Alibaba PAI cluster the openb trace came from (rebuilt from the node-shape table in
// /work/shared/traces/README.md, which lists upstream's openb_node_list_all_node.csv by shape),
// and a builder for hand-made clusters in tests.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "scheduling/model.h"

namespace hangar::sim {

// A group of identical nodes. An empty `gpu_model` (with `gpus` 0) is a CPU-only node.
struct NodeShape {
  std::string_view gpu_model;
  int32_t gpus = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int32_t count = 0;
};

// A GPU model and the memory per GPU the simulator gives it.
struct GpuModel {
  std::string_view name;
  int32_t memory_mib = 0;
};

// The GPU models of the openb cluster, in the order of their type indices in the snapshot.
// The memory figures are the public ones for the named cards (A10 24 GB, T4 16 GB, P100 16 GB,
// V100 16 and 32 GB); G2 and G3 are undisclosed internal codes, given 32 GiB as a placeholder.
// No request in the default trace asks for GPU memory, so these figures do not change results.
std::span<const GpuModel> OpenbGpuModels();

// The openb cluster's node shapes: 27 rows, 1,523 nodes, 6,212 GPUs.
std::span<const NodeShape> OpenbNodeShapes();

// Builds a snapshot with one node per unit of `count`, in the order of `shapes`, named
// `node-0001`, `node-0002`, ... (4 digits, wider past 9,999). Every node is schedulable, has no
// labels and an unknown CUDA version; every GPU is idle and healthy. `models` gives the type
// index (its position) and memory of each GPU model. Errors: kInvalidArgument when a shape names
// a model missing from `models`, has GPUs without a model (or a model without GPUs), or a
// negative figure.
Result<scheduling::ClusterSnapshot> BuildCluster(std::span<const NodeShape> shapes,
                                                 std::span<const GpuModel> models);

// BuildCluster(OpenbNodeShapes(), OpenbGpuModels()); cannot fail.
scheduling::ClusterSnapshot OpenbCluster();

}  // namespace hangar::sim
