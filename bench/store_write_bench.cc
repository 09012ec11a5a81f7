// Durable-create throughput of the SQLite store: each iteration is one Store::Write that inserts a
// GPU type and appends its event (the shape of every API create), committed with
// synchronous=FULL. With many threads the writer batches concurrent writes into one transaction
// (group commit), so throughput should grow with the thread count while each write stays durable.
//
// Thread-safety: the store is shared by the benchmark threads, as in hangard.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/clock.h"
#include "common/ids.h"
#include "store/repos.h"
#include "store/store.h"

namespace hangar::store {
namespace {

// One store per benchmark run, opened by Setup before the threads start and closed by Teardown
// after they have all finished. Written only while no benchmark thread runs.
struct Shared {
  std::string dir;
  std::unique_ptr<Store> store;
  OrgId org;
  std::atomic<int64_t> serial{0};
};
Shared g_shared;

void OpenBenchStore(const benchmark::State&) {
  SystemClock clock;
  std::string tmpl = (std::filesystem::temp_directory_path() / "store_bench_XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  g_shared.dir = tmpl;
  auto opened = OpenStore({.url = "sqlite:" + g_shared.dir + "/bench.db"});
  if (!opened) {
    fprintf(stderr, "cannot open the store: %s\n", opened.error().ToString().c_str());
    std::abort();
  }
  g_shared.store = std::move(*opened);
  g_shared.org = OrgId::Generate(clock);
  OrgRecord org{g_shared.org, "bench", clock.Now()};
  if (!g_shared.store->Write([&](Tx& tx) { return InsertOrg(tx, org); })) std::abort();
}

void CloseBenchStore(const benchmark::State&) {
  g_shared.store.reset();
  std::filesystem::remove_all(g_shared.dir);
}

void BM_DurableCreate(benchmark::State& state) {
  SystemClock clock;
  Store& store = *g_shared.store;
  for (auto _ : state) {
    int64_t n = g_shared.serial.fetch_add(1);
    GpuTypeRecord t;
    t.id = GpuTypeId::Generate(clock);
    t.org_id = g_shared.org;
    t.name = "type-" + std::to_string(n);
    t.vendor = "nvidia";
    t.architecture = "hopper";
    t.product_name = "NVIDIA H100 #" + std::to_string(n);
    t.memory_mib = 81920;
    t.compute_capability = "9.0";
    t.hourly_price_micros = 2'000'000;
    t.currency = "USD";
    t.created_at = t.updated_at = clock.Now();
    EventRecord e{0,
                  EventId::Generate(clock),
                  g_shared.org,
                  "hangar.gpu_type.created",
                  "/bench",
                  t.id.str(),
                  clock.Now(),
                  R"({"name":"x"})"};
    Status s = store.Write([&](Tx& tx) -> Status {
      HANGAR_TRY(InsertGpuType(tx, t));
      return AppendEvent(tx, e);
    });
    if (!s) {
      state.SkipWithError(s.error().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_DurableCreate)
    ->Setup(OpenBenchStore)
    ->Teardown(CloseBenchStore)
    ->Threads(1)
    ->Threads(64)
    ->UseRealTime();

}  // namespace
}  // namespace hangar::store

BENCHMARK_MAIN();
