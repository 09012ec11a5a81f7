// Row accessors and OpenStore: URL parsing, backend selection, migrations at start-up and the
// optional transaction metrics.
//
// Thread-safety: OpenStore may be called from any thread; Row is a value type; the metrics
// wrapper adds only atomic updates to the backend it wraps.
#include "store/store.h"

#include <filesystem>
#include <system_error>

#include "store/migrations.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "telemetry/hangard_metrics.h"

namespace hangar::store {
namespace {

// Times each transaction of the store it wraps (StoreOptions::metrics). The series are resolved
// once here, so a transaction costs two clock reads and two atomic adds.
class InstrumentedStore final : public Store {
 public:
  InstrumentedStore(std::unique_ptr<Store> inner, telemetry::StoreMetrics& metrics)
      : inner_(std::move(inner)),
        read_(Series(metrics, "read", inner_->dialect())),
        write_(Series(metrics, "write", inner_->dialect())) {}

  Status Read(const TxFunction& fn) override {
    return Timed(read_, [&] { return inner_->Read(fn); });
  }
  Status Write(const TxFunction& fn) override {
    return Timed(write_, [&] { return inner_->Write(fn); });
  }
  Status Ping() override { return inner_->Ping(); }
  Dialect dialect() const override { return inner_->dialect(); }

 private:
  struct KindSeries {
    telemetry::Histogram* duration;
    telemetry::Counter* errors;
  };

  static KindSeries Series(telemetry::StoreMetrics& metrics, std::string_view kind,
                           Dialect dialect) {
    std::string_view backend = dialect == Dialect::kSqlite ? "sqlite" : "postgres";
    return {&metrics.transaction_duration.WithLabels({kind, backend}),
            &metrics.transaction_errors.WithLabels({kind, backend})};
  }

  template <typename Call>
  static Status Timed(const KindSeries& series, const Call& call) {
    Status status;
    {
      telemetry::ScopedTimer timer(series.duration);
      status = call();
    }
    // Not found, conflicts and invalid input are answers, not store failures.
    if (!status && (status.error().code() == ErrorCode::kUnavailable ||
                    status.error().code() == ErrorCode::kInternal)) {
      series.errors->Increment();
    }
    return status;
  }

  std::unique_ptr<Store> inner_;
  const KindSeries read_;
  const KindSeries write_;
};

}  // namespace

bool Row::IsNull(size_t i) const {
  HANGAR_CHECK(i < values_.size(), "row column index out of range");
  return std::holds_alternative<std::monostate>(values_[i]);
}

int64_t Row::Int(size_t i) const {
  HANGAR_CHECK(i < values_.size(), "row column index out of range");
  const auto* v = std::get_if<int64_t>(&values_[i]);
  HANGAR_CHECK(v != nullptr, "row column is not an integer");
  return *v;
}

double Row::Real(size_t i) const {
  HANGAR_CHECK(i < values_.size(), "row column index out of range");
  if (const auto* n = std::get_if<int64_t>(&values_[i])) return static_cast<double>(*n);
  const auto* v = std::get_if<double>(&values_[i]);
  HANGAR_CHECK(v != nullptr, "row column is not a number");
  return *v;
}

const std::string& Row::Text(size_t i) const {
  HANGAR_CHECK(i < values_.size(), "row column index out of range");
  const auto* v = std::get_if<std::string>(&values_[i]);
  HANGAR_CHECK(v != nullptr, "row column is not text");
  return *v;
}

std::optional<std::string> Row::OptText(size_t i) const {
  if (IsNull(i)) return std::nullopt;
  return Text(i);
}

std::optional<Timestamp> Row::OptTime(size_t i) const {
  if (IsNull(i)) return std::nullopt;
  return Time(i);
}

Result<std::unique_ptr<Store>> OpenStore(const StoreOptions& options) {
  const std::string& url = options.url;
  std::unique_ptr<Store> store;
  if (url.starts_with("sqlite:")) {
    std::string path = url.substr(std::string_view("sqlite:").size());
    // Accept sqlite:///abs/path and sqlite://rel as well as the documented sqlite:PATH.
    if (path.starts_with("//")) path = path.substr(2);
    if (path.empty()) {
      return std::unexpected(Error::Invalid("the database URL names no SQLite file")
                                 .Field("database", "use sqlite:PATH, e.g. sqlite:hangar.db"));
    }
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        return std::unexpected(Error::Unavailable("cannot create the database directory " +
                                                  parent.string() + ": " + ec.message()));
      }
    }
    HANGAR_ASSIGN_OR_RETURN(store, OpenSqliteStore(path, options));
  } else if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    HANGAR_ASSIGN_OR_RETURN(store, OpenPostgresStore(url, options));
  } else {
    return std::unexpected(
        Error::Invalid("the database URL has an unsupported scheme")
            .Field("database", "must start with sqlite:, postgres:// or postgresql://"));
  }
  HANGAR_TRY(ApplyMigrations(*store));
  if (options.metrics != nullptr) {
    store = std::make_unique<InstrumentedStore>(std::move(store), *options.metrics);
  }
  return store;
}

}  // namespace hangar::store
