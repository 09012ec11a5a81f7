// The openb cluster table and the snapshot builder. See cluster.h.
#include "cluster.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace hangar::sim {
namespace {

constexpr std::array<GpuModel, 7> kOpenbGpuModels = {{
    {"A10", 24576},
    {"G2", 32768},  // undisclosed model: placeholder
    {"G3", 32768},  // undisclosed model: placeholder
    {"P100", 16384},
    {"T4", 16384},
    {"V100M16", 16384},
    {"V100M32", 32768},
}};

// From /work/shared/traces/README.md ("The cluster the pods came from"), row for row.
constexpr std::array<NodeShape, 27> kOpenbNodeShapes = {{
    {"A10", 1, 128000, 1048576, 2},   {"G2", 8, 96000, 393216, 549},
    {"G3", 8, 128000, 786432, 39},    {"P100", 2, 16000, 122880, 107},
    {"P100", 2, 64000, 262144, 22},   {"P100", 2, 8000, 61440, 2},
    {"P100", 1, 8000, 61440, 3},      {"T4", 4, 96000, 393216, 17},
    {"T4", 2, 104000, 524288, 387},   {"V100M16", 8, 64000, 262144, 7},
    {"V100M16", 8, 82000, 344064, 1}, {"V100M16", 4, 32000, 131072, 28},
    {"V100M16", 1, 8000, 32768, 19},  {"V100M32", 8, 96000, 786432, 21},
    {"V100M32", 4, 48000, 376832, 9}, {"", 0, 32000, 262144, 129},
    {"", 0, 96000, 524288, 59},       {"", 0, 96000, 393216, 30},
    {"", 0, 32000, 131072, 23},       {"", 0, 64000, 524288, 22},
    {"", 0, 104000, 524288, 20},      {"", 0, 32000, 65536, 10},
    {"", 0, 64000, 262144, 8},        {"", 0, 64000, 131072, 4},
    {"", 0, 104000, 786432, 3},       {"", 0, 104000, 196608, 1},
    {"", 0, 96000, 786432, 1},
}};

}  // namespace

std::span<const GpuModel> OpenbGpuModels() { return kOpenbGpuModels; }

std::span<const NodeShape> OpenbNodeShapes() { return kOpenbNodeShapes; }

Result<scheduling::ClusterSnapshot> BuildCluster(std::span<const NodeShape> shapes,
                                                 std::span<const GpuModel> models) {
  scheduling::ClusterSnapshot cluster;
  for (const GpuModel& model : models) cluster.gpu_types.emplace_back(model.name);
  int64_t total_nodes = 0;
  for (size_t row = 0; row < shapes.size(); ++row) {
    const NodeShape& shape = shapes[row];
    auto fail = [row](std::string_view why) {
      return std::unexpected(Error::Invalid(fmt::format("node shape {}: {}", row, why)));
    };
    if (shape.gpus < 0 || shape.cpu_milli < 0 || shape.memory_mib < 0 || shape.count < 0) {
      return fail("negative figure");
    }
    if ((shape.gpus > 0) != !shape.gpu_model.empty()) {
      return fail("a GPU model needs GPUs, and GPUs need a model");
    }
    total_nodes += shape.count;
  }
  // Ids are padded to one width so they sort in node order.
  int width = std::max<int>(4, static_cast<int>(fmt::formatted_size("{}", total_nodes)));
  cluster.nodes.reserve(static_cast<size_t>(total_nodes));
  for (size_t row = 0; row < shapes.size(); ++row) {
    const NodeShape& shape = shapes[row];
    scheduling::Gpu gpu;
    if (shape.gpus > 0) {
      auto it = std::find_if(models.begin(), models.end(),
                             [&](const GpuModel& m) { return m.name == shape.gpu_model; });
      if (it == models.end()) {
        return std::unexpected(Error::Invalid(
            fmt::format("node shape {}: unknown GPU model \"{}\"", row, shape.gpu_model)));
      }
      gpu.type = static_cast<uint16_t>(it - models.begin());
      gpu.memory_mib = it->memory_mib;
    }
    for (int32_t i = 0; i < shape.count; ++i) {
      scheduling::Node node;
      node.id = fmt::format("node-{:0{}}", cluster.nodes.size() + 1, width);
      node.gpus.assign(static_cast<size_t>(shape.gpus), gpu);
      node.cpu_milli_free = shape.cpu_milli;
      node.memory_mib_free = shape.memory_mib;
      cluster.nodes.push_back(std::move(node));
    }
  }
  return cluster;
}

scheduling::ClusterSnapshot OpenbCluster() {
  auto cluster = BuildCluster(OpenbNodeShapes(), OpenbGpuModels());
  HANGAR_CHECK(cluster.has_value(), "the built-in openb cluster table is valid");
  return std::move(*cluster);
}

}  // namespace hangar::sim
