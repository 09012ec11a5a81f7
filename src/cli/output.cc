#include "cli/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <tuple>
#include <utility>

#include "common/json_codec.h"

namespace hangar::cli {

Result<OutputFormat> ParseOutputFormat(std::string_view text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  if (text == "yaml") return OutputFormat::kYaml;
  return std::unexpected(Error::Invalid("unknown output format '" + std::string(text) + "'")
                             .Hint("use -o table, -o json or -o yaml"));
}

std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      l += cell;
      if (i + 1 < width.size()) l += std::string(width[i] - cell.size() + 3, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(headers);
  for (const auto& row : rows) line(row);
  return out;
}

namespace {

void EmitYaml(YAML::Emitter& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      out << YAML::Null;
      break;
    case boost::json::kind::bool_:
      out << v.get_bool();
      break;
    case boost::json::kind::int64:
      out << v.get_int64();
      break;
    case boost::json::kind::uint64:
      out << v.get_uint64();
      break;
    case boost::json::kind::double_:
      out << v.get_double();
      break;
    case boost::json::kind::string: {
      std::string s(v.get_string());
      // Quote strings YAML would read as another type ("true", "12", "", "null").
      bool quote = s.empty();
      if (!quote) {
        try {
          YAML::Node n = YAML::Load(s);
          quote = !n.IsScalar() || n.Tag() != "?" || n.as<std::string>() != s;
          if (!quote) {
            // Plain scalars that resolve to bool/null/number must stay strings.
            static const char* kSpecial[] = {"true", "false", "yes",  "no",    "on",  "off",
                                             "null", "~",     "True", "False", "Null"};
            for (const char* sp : kSpecial) quote |= s == sp;
            double d;
            auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
            quote |= ec == std::errc() && p == s.data() + s.size();
          }
        } catch (const YAML::Exception&) {
          quote = true;
        }
      }
      if (quote) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case boost::json::kind::array:
      out << YAML::BeginSeq;
      for (const auto& item : v.get_array()) EmitYaml(out, item);
      out << YAML::EndSeq;
      break;
    case boost::json::kind::object:
      out << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        out << YAML::Key << std::string(kv.key()) << YAML::Value;
        EmitYaml(out, kv.value());
      }
      out << YAML::EndMap;
      break;
  }
}

template <typename T>
std::string RenderList(const std::vector<T>& items, OutputFormat format,
                       const std::vector<std::string>& headers,
                       std::vector<std::string> (*row)(const T&)) {
  if (format == OutputFormat::kTable) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& item : items) rows.push_back(row(item));
    return RenderTable(headers, rows);
  }
  boost::json::value v = json::Encode(items);
  return format == OutputFormat::kJson ? boost::json::serialize(v) + "\n" : ToYaml(v);
}

std::string GiB(int64_t mib) {
  // One decimal, computed in integers: 81559 MiB -> "79.6".
  int64_t tenths = (mib * 10 + 512) / 1024;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10);
}

std::string OrDash(const std::optional<std::string>& s) { return s && !s->empty() ? *s : "-"; }

std::string JoinLabels(const api::Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out.empty() ? "-" : out;
}

}  // namespace

std::string ToYaml(const boost::json::value& value) {
  YAML::Emitter out;
  EmitYaml(out, value);
  return std::string(out.c_str()) + "\n";
}

std::string Render(const std::vector<api::Gpu>& items, OutputFormat format) {
  return RenderList<api::Gpu>(items, format,
                              {"ID", "NODE", "INDEX", "TYPE", "MEMORY (GiB)", "STATE"},
                              [](const api::Gpu& g) -> std::vector<std::string> {
                                return {g.id,
                                        g.node_id,
                                        std::to_string(g.index),
                                        g.gpu_type.empty() ? "-" : g.gpu_type,
                                        GiB(g.memory_mib),
                                        std::string(json::EnumName(g.state))};
                              });
}

namespace {

// At most `max` characters of `text`, with "..." marking a cut (ASCII, so tables stay aligned).
std::string Truncate(const std::string& text, size_t max) {
  return text.size() <= max ? text : text.substr(0, max - 3) + "...";
}

// "no", "yes", "yes: <reason>", "draining, 3 running: <reason>".
std::string CordonCell(const api::Node& n) {
  if (!n.cordoned && !n.draining) return "no";
  std::string cell =
      n.draining ? "draining, " + std::to_string(n.workloads_running) + " running" : "yes";
  if (!n.cordon_reason.empty()) cell += ": " + Truncate(n.cordon_reason, 40);
  return cell;
}

// "gpu=broken,maintenance" (the effect only when it is not the default NoSchedule).
std::string TaintsCell(const std::vector<api::NodeTaint>& taints) {
  std::string out;
  for (const auto& t : taints) {
    out += (out.empty() ? "" : ",") + t.key;
    if (t.value) out += "=" + *t.value;
    if (t.effect && *t.effect != "NoSchedule") out += ":" + *t.effect;
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string Render(const std::vector<api::Node>& items, OutputFormat format) {
  if (format != OutputFormat::kTable) return RenderTree(items, format);
  // TAINTS only earns its width when some node has a taint.
  bool show_taints =
      std::any_of(items.begin(), items.end(), [](const api::Node& n) { return !n.taints.empty(); });
  std::vector<std::string> headers{"ID", "NAME", "STATE", "CORDONED", "GPUS", "LABELS"};
  if (show_taints) headers.push_back("TAINTS");
  headers.push_back("LAST HEARTBEAT");
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : items) {
    std::vector<std::string> row{n.id,
                                 n.name,
                                 std::string(json::EnumName(n.state)),
                                 CordonCell(n),
                                 std::to_string(n.gpu_count),
                                 JoinLabels(n.labels)};
    if (show_taints) row.push_back(TaintsCell(n.taints));
    row.push_back(OrDash(n.last_heartbeat_at));
    rows.push_back(std::move(row));
  }
  return RenderTable(headers, rows);
}

std::string Render(const std::vector<api::GpuType>& items, OutputFormat format) {
  return RenderList<api::GpuType>(
      items, format, {"NAME", "VENDOR", "ARCH", "PRODUCT", "MEMORY (GiB)", "CC", "PRICE/H", "ID"},
      [](const api::GpuType& t) -> std::vector<std::string> {
        return {t.name,
                t.vendor,
                t.architecture,
                t.product_name,
                GiB(t.memory_mib),
                t.compute_capability,
                FormatPriceMicros(t.hourly_price_micros) + " " + t.currency,
                t.id};
      });
}

std::string Render(const std::vector<api::JoinToken>& items, OutputFormat format) {
  return RenderList<api::JoinToken>(
      items, format, {"ID", "DESCRIPTION", "EXPIRES", "USES", "LAST USED"},
      [](const api::JoinToken& t) -> std::vector<std::string> {
        return {t.id, t.description.empty() ? "-" : t.description, t.expires_at,
                std::to_string(t.uses), OrDash(t.last_used_at)};
      });
}

std::string Render(const std::vector<api::Event>& items, OutputFormat format) {
  return RenderList<api::Event>(items, format, {"TIME", "TYPE", "SUBJECT", "ID"},
                                [](const api::Event& e) -> std::vector<std::string> {
                                  return {e.time, e.type, e.subject, e.id};
                                });
}

namespace {

std::string Join(const std::vector<std::string>& items, std::string_view sep = ",") {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out.empty() ? "-" : out;
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// "organization", "team/team_1", "project/proj_1".
std::string Scope(api::ScopeType type, const std::string& id) {
  if (type == api::ScopeType::organization) return "organization";
  return std::string(json::EnumName(type)) + "/" + id;
}

std::string Expiry(const std::optional<std::string>& expires_at, bool expired) {
  if (!expires_at) return "-";
  return expired ? *expires_at + " (expired)" : *expires_at;
}

// A member of a JSON object as text: strings as they are, numbers printed, else "-".
std::string Member(const boost::json::value& v, std::string_view key) {
  const auto* obj = v.if_object();
  const auto* m = obj ? obj->if_contains(key) : nullptr;
  if (!m) return "-";
  if (m->is_string()) return m->get_string().empty() ? "-" : std::string(m->get_string());
  if (m->is_int64()) return std::to_string(m->get_int64());
  if (m->is_uint64()) return std::to_string(m->get_uint64());
  return "-";
}

}  // namespace

std::string Render(const std::vector<api::Organization>& items, OutputFormat format) {
  return RenderList<api::Organization>(
      items, format, {"ID", "NAME", "DISPLAY NAME", "KEY MAX AGE (DAYS)", "CREATED"},
      [](const api::Organization& o) -> std::vector<std::string> {
        auto age = o.settings.api_key_max_age_days;
        return {o.id, o.name, OrDash(o.display_name), age && *age > 0 ? std::to_string(*age) : "-",
                o.created_at};
      });
}

std::string Render(const std::vector<api::Team>& items, OutputFormat format) {
  return RenderList<api::Team>(items, format, {"ID", "NAME", "DESCRIPTION", "CREATED"},
                               [](const api::Team& t) -> std::vector<std::string> {
                                 return {t.id, t.name, OrDash(t.description), t.created_at};
                               });
}

std::string Render(const std::vector<api::Project>& items, OutputFormat format) {
  return RenderList<api::Project>(
      items, format, {"ID", "NAME", "TEAM", "DESCRIPTION", "CREATED"},
      [](const api::Project& p) -> std::vector<std::string> {
        return {p.id, p.name, p.team_id, OrDash(p.description), p.created_at};
      });
}

std::string Render(const std::vector<api::Job>& items, OutputFormat format) {
  return RenderList<api::Job>(items, format,
                              {"ID", "NAME", "STATE", "GPUS", "NODE", "EXIT", "REASON", "CREATED"},
                              [](const api::Job& j) -> std::vector<std::string> {
                                std::string gpus = std::to_string(j.resources.gpus.value_or(1));
                                if (j.resources.gpu_type) gpus += "x" + *j.resources.gpu_type;
                                std::string exit = j.signal ? "signal " + std::to_string(*j.signal)
                                                   : j.exit_code ? std::to_string(*j.exit_code)
                                                                 : "-";
                                std::string reason = j.queue ? j.queue->reason : j.state_reason;
                                return {j.id,
                                        j.name,
                                        std::string(json::EnumName(j.state)),
                                        gpus,
                                        OrDash(j.node_id.value_or("")),
                                        exit,
                                        OrDash(reason),
                                        j.created_at};
                              });
}

std::string Render(const std::vector<api::Instance>& items, OutputFormat format) {
  return RenderList<api::Instance>(
      items, format,
      {"ID", "NAME", "STATE", "GPUS", "NODE", "EXPIRES", "COST", "REASON", "CREATED"},
      [](const api::Instance& i) -> std::vector<std::string> {
        std::string gpus = std::to_string(i.resources.gpus.value_or(1));
        if (i.resources.gpu_type) gpus += "x" + *i.resources.gpu_type;
        std::string reason = i.queue ? i.queue->reason : i.state_reason;
        std::string cost = FormatPriceMicros(i.cost_micros);
        if (!i.currency.empty()) cost += " " + i.currency;
        return {i.id,
                i.name,
                std::string(json::EnumName(i.state)),
                gpus,
                OrDash(i.node_id.value_or("")),
                OrDash(i.expires_at.value_or("")),
                cost,
                OrDash(reason),
                i.created_at};
      });
}

std::string Render(const std::vector<api::InstanceEstimate>& items, OutputFormat format) {
  return RenderList<api::InstanceEstimate>(
      items, format, {"FITS", "NOW", "PER HOUR", "LIFETIME COST", "EXPECTED START", "BLOCKED BY"},
      [](const api::InstanceEstimate& e) -> std::vector<std::string> {
        std::string currency = e.currency.empty() ? "" : " " + e.currency;
        std::vector<std::string> blocked;
        for (const auto& o : e.blocked_by) blocked.push_back(o.code + ": " + o.message);
        return {e.feasible ? "yes" : "no",
                e.available_now ? "yes" : "no",
                FormatPriceMicros(e.hourly_price_micros) + currency,
                FormatPriceMicros(e.lifetime_cost_micros) + currency,
                OrDash(e.expected_start.value_or("")),
                Join(blocked, "; ")};
      });
}

std::string Render(const std::vector<api::Quota>& items, OutputFormat format) {
  return RenderList<api::Quota>(
      items, format,
      {"SCOPE", "NAME", "GUARANTEED", "LIMIT", "PER USER", "WEIGHT", "IN USE", "PENDING"},
      [](const api::Quota& q) -> std::vector<std::string> {
        auto gpus = [](double g) {
          char text[32];
          std::snprintf(text, sizeof text, "%g", g);
          return std::string(text);
        };
        return {q.scope_id,
                q.scope_name,
                std::to_string(q.gpus),
                q.gpu_limit ? std::to_string(*q.gpu_limit) : "-",
                q.gpu_limit_per_user ? std::to_string(*q.gpu_limit_per_user) : "-",
                std::to_string(q.weight),
                gpus(q.gpus_in_use),
                gpus(q.gpus_pending)};
      });
}

std::string Render(const std::vector<api::Snapshot>& items, OutputFormat format) {
  return RenderList<api::Snapshot>(
      items, format, {"ID", "NAME", "INSTANCE", "STATE", "SIZE", "PURPOSE", "CREATED"},
      [](const api::Snapshot& s) -> std::vector<std::string> {
        char size[32];
        std::snprintf(size, sizeof size, "%.1f MiB", static_cast<double>(s.size_bytes) / (1 << 20));
        return {s.id,
                s.name,
                s.instance_id,
                std::string(json::EnumName(s.state)),
                s.state == api::SnapshotState::ready ? size : "-",
                s.purpose,
                s.created_at};
      });
}

// KIND says what waits (an instance, or a quota change of SUBJECT, the team or project); SCOPE
// is where it is decided.
std::string Render(const std::vector<api::Approval>& items, OutputFormat format) {
  return RenderList<api::Approval>(
      items, format,
      {"ID", "KIND", "SUBJECT", "SCOPE", "STATE", "REQUESTED BY", "DECIDED BY", "WHY"},
      [](const api::Approval& a) -> std::vector<std::string> {
        std::string why;
        for (const auto& r : a.reasons) why += (why.empty() ? "" : "; ") + r;
        return {a.id,
                a.subject_kind,
                a.subject_id,
                a.scope_id,
                std::string(json::EnumName(a.state)),
                a.requested_by,
                OrDash(a.decided_by),
                why};
      });
}

std::string Render(const std::vector<api::Schedule>& items, OutputFormat format) {
  return RenderList<api::Schedule>(
      items, format, {"ID", "NAME", "PROJECT", "CRON", "ZONE", "NEXT RUN", "LAST RUN", "RESULT"},
      [](const api::Schedule& s) -> std::vector<std::string> {
        std::string result(json::EnumName(s.last_result));
        if (s.last_job_id && s.last_result == api::ScheduleRunResult::started) {
          result += " " + *s.last_job_id;
        }
        return {s.id,
                s.name,
                s.project_id,
                s.cron,
                s.time_zone,
                s.suspended ? "suspended" : s.next_run_at.value_or("never"),
                OrDash(s.last_run_at),
                result};
      });
}

std::string Render(const std::vector<api::Reservation>& items, OutputFormat format) {
  return RenderList<api::Reservation>(
      items, format, {"ID", "NAME", "PROJECT", "TYPE", "GPUS", "START", "END", "STATE", "IN USE"},
      [](const api::Reservation& r) -> std::vector<std::string> {
        std::string gpus = std::to_string(r.gpus);
        if (r.state == api::ReservationState::active &&
            static_cast<int64_t>(r.reserved_gpus.size()) < r.gpus) {
          gpus = std::to_string(r.reserved_gpus.size()) + "/" + gpus;
        }
        return {r.id,
                r.name,
                r.project_id,
                r.gpu_type,
                gpus,
                r.start_at,
                r.end_at,
                std::string(json::EnumName(r.state)),
                std::to_string(r.gpus_in_use)};
      });
}

std::string Render(const std::vector<api::ReservationCalendar>& items, OutputFormat format) {
  if (format != OutputFormat::kTable) {
    boost::json::array out;
    for (const auto& c : items) out.push_back(json::Encode(c));
    if (format == OutputFormat::kYaml) return ToYaml(out);
    return boost::json::serialize(out) + "\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : items) {
    for (const auto& t : c.gpu_types) {
      for (const auto& slot : t.slots) {
        std::string names;
        for (const auto& id : slot.reservations) names += (names.empty() ? "" : ",") + id;
        rows.push_back({t.gpu_type, slot.start, slot.end, std::to_string(slot.reserved),
                        std::to_string(slot.available) + "/" + std::to_string(t.capacity),
                        names.empty() ? "-" : names});
      }
    }
  }
  return RenderTable({"TYPE", "FROM", "TO", "RESERVED", "FREE", "RESERVATIONS"}, rows);
}

std::string Render(const std::vector<api::ApprovalPolicy>& items, OutputFormat format) {
  return RenderList<api::ApprovalPolicy>(
      items, format, {"PROJECT", "GPUS OVER", "COST OVER (PER HOUR)", "UPDATED BY"},
      [](const api::ApprovalPolicy& p) -> std::vector<std::string> {
        return {p.project_id, p.gpus_over ? std::to_string(*p.gpus_over) : "-",
                p.hourly_cost_over_micros ? FormatPriceMicros(*p.hourly_cost_over_micros) : "-",
                OrDash(p.updated_by)};
      });
}

std::string Render(const std::vector<api::User>& items, OutputFormat format) {
  return RenderList<api::User>(items, format,
                               {"ID", "EMAIL", "NAME", "STATE", "LOCKED", "LAST LOGIN"},
                               [](const api::User& u) -> std::vector<std::string> {
                                 return {u.id,
                                         u.email,
                                         OrDash(u.display_name),
                                         std::string(json::EnumName(u.state)),
                                         u.locked ? "until " + u.locked_until.value_or("?") : "no",
                                         OrDash(u.last_login_at)};
                               });
}

std::string Render(const std::vector<api::ServiceAccount>& items, OutputFormat format) {
  return RenderList<api::ServiceAccount>(
      items, format, {"ID", "NAME", "DESCRIPTION", "DISABLED", "CREATED"},
      [](const api::ServiceAccount& a) -> std::vector<std::string> {
        return {a.id, a.name, OrDash(a.description), a.disabled ? "yes" : "no", a.created_at};
      });
}

std::string Render(const std::vector<api::ApiKey>& items, OutputFormat format) {
  return RenderList<api::ApiKey>(
      items, format, {"ID", "NAME", "OWNER", "PREFIX", "SCOPES", "STATE", "EXPIRES", "LAST USED"},
      [](const api::ApiKey& k) -> std::vector<std::string> {
        return {k.id,
                k.name,
                k.owner_id.empty() ? k.owner_type : k.owner_id,
                k.prefix,
                Join(k.scopes),
                std::string(json::EnumName(k.state)),
                OrDash(k.expires_at),
                OrDash(k.last_used_at)};
      });
}

std::string Render(const std::vector<api::Role>& items, OutputFormat format) {
  return RenderList<api::Role>(items, format,
                               {"NAME", "BUILT-IN", "PERMISSIONS", "INCLUDES", "DESCRIPTION"},
                               [](const api::Role& r) -> std::vector<std::string> {
                                 return {r.name, r.builtin ? "yes" : "no", Join(r.permissions),
                                         Join(r.includes), OrDash(r.description)};
                               });
}

std::string Render(const std::vector<api::Permission>& items, OutputFormat format) {
  return RenderList<api::Permission>(items, format, {"NAME", "DESCRIPTION"},
                                     [](const api::Permission& p) -> std::vector<std::string> {
                                       return {p.name, OrDash(p.description)};
                                     });
}

std::string Render(const std::vector<api::RoleBinding>& items, OutputFormat format) {
  return RenderList<api::RoleBinding>(
      items, format, {"ID", "PRINCIPAL", "ROLE", "SCOPE", "EXPIRES", "JUSTIFICATION"},
      [](const api::RoleBinding& b) -> std::vector<std::string> {
        return {b.id,
                b.principal_id,
                b.role,
                Scope(b.scope_type, b.scope_id),
                Expiry(b.expires_at, b.expired),
                OrDash(b.justification)};
      });
}

std::string Render(const std::vector<api::AccessReviewEntry>& items, OutputFormat format) {
  return RenderList<api::AccessReviewEntry>(
      items, format,
      {"PRINCIPAL", "PRINCIPAL ID", "ROLE", "SCOPE", "EXPIRES", "LAST USED", "BINDING"},
      [](const api::AccessReviewEntry& e) -> std::vector<std::string> {
        return {OrDash(e.principal_name),
                e.principal_id,
                e.role,
                Scope(e.scope_type, e.scope_id),
                Expiry(e.expires_at, e.expired),
                OrDash(e.last_used_at),
                e.binding_id};
      });
}

std::string Render(const std::vector<api::WhoAmI>& items, OutputFormat format) {
  return RenderList<api::WhoAmI>(
      items, format, {"NAME", "PRINCIPAL", "ORGANIZATION", "CREDENTIAL", "SCOPES", "ROLES"},
      [](const api::WhoAmI& w) -> std::vector<std::string> {
        std::vector<std::string> roles;
        for (const auto& b : w.bindings) {
          std::string scope = Scope(b.scope_type, b.scope_id);
          roles.push_back(scope == "organization" ? b.role : b.role + "@" + scope);
        }
        return {OrDash(w.name),
                w.principal_id.empty() ? w.principal_type : w.principal_id,
                OrDash(w.organization_name),
                w.credential_type + (w.credential_id.empty() ? "" : " " + w.credential_id),
                Join(w.scopes),
                Join(roles)};
      });
}

std::string Render(const std::vector<api::AlertRule>& items, OutputFormat format) {
  return RenderList<api::AlertRule>(
      items, format,
      {"NAME", "METRIC", "CONDITION", "SCOPE", "SELECTOR", "SEVERITY", "ENABLED", "BUILT-IN", "ID"},
      [](const api::AlertRule& r) -> std::vector<std::string> {
        std::string condition = r.op + " " + FormatNumber(r.threshold);
        if (r.duration_seconds > 0) {
          condition += " for " + FormatDurationSeconds(r.duration_seconds);
        }
        api::Labels selector = r.selector.node_labels.value_or(api::Labels{});
        if (r.selector.gpu_type) selector["gpu_type"] = *r.selector.gpu_type;
        return {r.name,
                r.metric,
                condition,
                r.scope,
                JoinLabels(selector),
                r.severity,
                r.enabled ? "yes" : "no",
                r.builtin ? "yes" : "no",
                r.id};
      });
}

std::string Render(const std::vector<api::Alert>& items, OutputFormat format) {
  return RenderList<api::Alert>(
      items, format, {"STATE", "SEVERITY", "RULE", "SUBJECT", "VALUE", "SINCE", "MESSAGE"},
      [](const api::Alert& a) -> std::vector<std::string> {
        std::string since = a.started_at;
        if (a.state == api::AlertState::firing) since = a.fired_at.value_or(a.started_at);
        if (a.state == api::AlertState::resolved) since = a.resolved_at.value_or(a.updated_at);
        return {std::string(json::EnumName(a.state)),
                OrDash(a.severity),
                a.rule_name.empty() ? a.rule_id : a.rule_name,
                a.subject,
                FormatNumber(a.value),
                since,
                OrDash(a.message)};
      });
}

std::string Render(const std::vector<api::MetricSeries>& items, OutputFormat format) {
  if (format != OutputFormat::kTable) return RenderTree(items, format);
  std::string out;
  for (const auto& series : items) {
    if (!out.empty()) out += "\n";
    out += series.metric + " (" + series.unit + ") of " + series.scope + " " + series.scope_id +
           ", " + series.from + " to " + series.to + ", step " +
           FormatDurationSeconds(series.step_seconds) + ", resolution " + series.resolution + "\n";
    if (series.points.empty()) {
      out += "no samples in this range\n";
      continue;
    }
    // A GPU series has one GPU by definition; the others say how many reported.
    bool show_gpus = series.scope != "gpu";
    std::vector<std::string> headers{"TIME", "MIN", "AVG", "MAX", "SAMPLES"};
    if (show_gpus) headers.push_back("GPUS");
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : series.points) {
      rows.push_back({p.t, FormatNumber(p.min), FormatNumber(p.avg), FormatNumber(p.max),
                      std::to_string(p.samples)});
      if (show_gpus) rows.back().push_back(FormatNumber(p.gpus));
    }
    out += RenderTable(headers, rows);
  }
  return out;
}

namespace {

// "[#####.....]  50%": ten cells, one per 10 percent, rounded.
std::string UtilizationBar(double percent) {
  double clamped = std::clamp(percent, 0.0, 100.0);
  int filled = static_cast<int>(std::lround(clamped / 10));
  char number[8];
  std::snprintf(number, sizeof number, "%3ld%%", std::lround(clamped));
  return "[" + std::string(filled, '#') + std::string(10 - filled, '.') + "] " + number;
}

std::string Rounded(double value) { return std::to_string(std::lround(value)); }

}  // namespace

std::string RenderGpuTop(std::vector<api::GpuLive> gpus, std::string_view as_of) {
  auto node_of = [](const api::GpuLive& g) -> const std::string& {
    return g.node_name.empty() ? g.node_id : g.node_name;
  };
  std::sort(gpus.begin(), gpus.end(), [&](const api::GpuLive& a, const api::GpuLive& b) {
    return std::tie(node_of(a), a.index) < std::tie(node_of(b), b.index);
  });
  int64_t busy = 0, unhealthy = 0, unreachable = 0, sampled = 0;
  double utilization_sum = 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& g : gpus) {
    bool held = g.workload_id.has_value() || g.project_id.has_value();
    busy += held;
    unhealthy += g.state == api::GpuState::unhealthy;
    unreachable += g.state == api::GpuState::unreachable;
    std::string holder = "-";
    if (g.project_id && g.workload_id) {
      holder = *g.project_id + "/" + *g.workload_id;
    } else if (held) {
      holder = g.project_id.value_or(g.workload_id.value_or(""));
    }
    std::vector<std::string> row{node_of(g), std::to_string(g.index),
                                 g.gpu_type.empty() ? "-" : g.gpu_type,
                                 std::string(json::EnumName(g.state))};
    if (g.sampled_at) {
      ++sampled;
      utilization_sum += g.utilization;
      row.insert(
          row.end(),
          {UtilizationBar(g.utilization), GiB(g.memory_used_mib) + "/" + GiB(g.memory_mib),
           Rounded(g.temperature_c), Rounded(g.power_watts), std::to_string(g.sm_clock_mhz)});
    } else {
      row.insert(row.end(), {"-", "-/" + GiB(g.memory_mib), "-", "-", "-"});
    }
    row.push_back(holder);
    rows.push_back(std::move(row));
  }
  std::string mean = sampled > 0 ? FormatNumber(utilization_sum / double(sampled)) + "%" : "-";
  std::string totals = "GPUs " + std::to_string(gpus.size()) + "   busy " + std::to_string(busy) +
                       "   mean util " + mean + "   unhealthy " + std::to_string(unhealthy) +
                       "   unreachable " + std::to_string(unreachable) + "   at " +
                       std::string(as_of) + "\n";
  return totals + "\n" +
         RenderTable({"NODE", "GPU", "TYPE", "STATE", "UTIL", "MEM (GiB)", "TEMP C", "POWER W",
                      "SM MHz", "PROJECT/WORKLOAD"},
                     rows);
}

std::string RenderAudit(const std::vector<api::Event>& items, OutputFormat format) {
  return RenderList<api::Event>(items, format,
                                {"TIME", "ACTOR", "OUTCOME", "METHOD", "PATH", "STATUS"},
                                [](const api::Event& e) -> std::vector<std::string> {
                                  std::string actor = "-";
                                  if (const auto* obj = e.data.if_object()) {
                                    if (const auto* a = obj->if_contains("actor")) {
                                      actor = Member(*a, "id");
                                      if (actor == "-") actor = Member(*a, "type");
                                    }
                                  }
                                  return {e.time,
                                          actor,
                                          Member(e.data, "outcome"),
                                          Member(e.data, "method"),
                                          Member(e.data, "path"),
                                          Member(e.data, "status")};
                                });
}

Result<int64_t> ParsePriceMicros(std::string_view text) {
  auto bad = [&] {
    // Built with append rather than "'" + std::string(text): GCC 12 -O2 warns falsely
    // (-Wstringop-overflow) on that form.
    std::string message = "'";
    message.append(text);
    message.append("' is not a price: use a decimal such as 2.49 (at most 6 decimal places)");
    return std::unexpected(Error::Invalid(std::move(message)));
  };
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == text.npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 12 || frac.size() > 6 || (dot != text.npos && frac.empty())) {
    return bad();
  }
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(whole) || !digits(frac)) return bad();
  int64_t units = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), units);
  int64_t micros = 0;
  for (size_t i = 0; i < 6; ++i) micros = micros * 10 + (i < frac.size() ? frac[i] - '0' : 0);
  return units * 1'000'000 + micros;
}

std::string FormatPriceMicros(int64_t micros) {
  std::string sign = micros < 0 ? "-" : "";
  uint64_t m = micros < 0 ? uint64_t(-(micros + 1)) + 1 : uint64_t(micros);
  std::string frac = std::to_string(m % 1'000'000);
  frac = std::string(6 - frac.size(), '0') + frac;
  while (frac.size() > 2 && frac.back() == '0') frac.pop_back();
  return sign + std::to_string(m / 1'000'000) + "." + frac;
}

std::string FormatDurationSeconds(int64_t seconds) {
  if (seconds == 0) return "0s";
  static constexpr std::pair<int64_t, const char*> kUnits[] = {
      {86400, "d"}, {3600, "h"}, {60, "m"}};
  for (auto [unit, suffix] : kUnits) {
    if (seconds % unit == 0) return std::to_string(seconds / unit) + suffix;
  }
  return std::to_string(seconds) + "s";
}

std::string FormatNumber(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.2f", value);
  std::string out = text;
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out == "-0" ? "0" : out;
}

Result<std::string> ParseTimeFlag(std::string_view text, std::string_view flag, Timestamp now) {
  if (text.empty()) return std::string();
  if (text == "now") return FormatRfc3339(now);
  if (text.front() == '+' || text.front() == '-') {
    auto seconds = ParseDurationSeconds(text.substr(1));
    if (seconds) {
      auto offset = std::chrono::seconds(*seconds);
      return FormatRfc3339(text.front() == '+' ? now + offset : now - offset);
    }
  } else if (ParseRfc3339(text)) {
    return std::string(text);
  }
  std::string message(flag);
  message.append(" '").append(text).append("' is not a time");
  return std::unexpected(
      Error::Invalid(std::move(message))
          .Hint("use an RFC 3339 time (2026-03-01T09:00:00Z), now, or a duration from now: "
                "+2h, -30m, -2d"));
}

Result<api::Labels> ParsePairs(const std::vector<std::string>& pairs, std::string_view flag) {
  api::Labels out;
  for (const auto& kv : pairs) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return std::unexpected(Error::Invalid("bad " + std::string(flag) + " '" + kv + "'")
                                 .Hint("use " + std::string(flag) + " KEY=VALUE"));
    }
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

Result<int64_t> ParseDurationSeconds(std::string_view text) {
  auto bad = [&] {
    return std::unexpected(Error::Invalid("'" + std::string(text) +
                                          "' is not a duration: use e.g. 90s, 30m, 24h, 7d"));
  };
  if (text.empty()) return bad();
  int64_t unit = 1;
  std::string_view number = text;
  switch (text.back()) {
    case 's':
      unit = 1;
      number.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      number.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      number.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      number.remove_suffix(1);
      break;
    default:
      break;
  }
  int64_t n = 0;
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (number.empty() || ec != std::errc() || p != number.data() + number.size() || n <= 0 ||
      n > 10'000'000) {
    return bad();
  }
  return n * unit;
}

int ExitCodeFor(const client::ApiError& error) {
  int s = error.http_status;
  if (s == 0) {
    switch (error.error.code()) {
      case ErrorCode::kUnavailable:
        return kExitUnavailable;
      case ErrorCode::kInvalidArgument:
      case ErrorCode::kMalformed:
        return kExitUsage;
      case ErrorCode::kUnauthenticated:
      case ErrorCode::kPermissionDenied:
        return kExitAuth;
      case ErrorCode::kNotFound:
        return kExitNotFound;
      default:
        return kExitError;
    }
  }
  if (s == 401 || s == 403) return kExitAuth;
  if (s == 404) return kExitNotFound;
  if (s >= 400 && s < 500) return kExitRejected;
  if (s >= 500) return kExitUnavailable;
  return kExitError;
}

std::string RenderError(const client::ApiError& error) {
  std::string out;
  if (error.problem) {
    const api::Problem& p = *error.problem;
    out = "Error: " + (p.title.empty() ? std::string("request failed") : p.title) + " (HTTP " +
          std::to_string(error.http_status) + ")";
    if (!p.detail.empty()) out += ": " + p.detail;
    out += "\n";
    if (p.errors) {
      for (const auto& f : *p.errors) out += "  - " + f.pointer + ": " + f.detail + "\n";
    }
    if (p.hint && !p.hint->empty()) out += "Hint: " + *p.hint + "\n";
    if (!p.request_id.empty()) out += "Request ID: " + p.request_id + "\n";
    return out;
  }
  out = "Error: " + error.error.message();
  if (error.http_status != 0 &&
      error.error.message().find("HTTP " + std::to_string(error.http_status)) ==
          std::string::npos) {
    out += " (HTTP " + std::to_string(error.http_status) + ")";
  }
  out += "\n";
  for (const auto& v : error.error.violations()) out += "  - " + v.pointer + ": " + v.detail + "\n";
  if (!error.error.hint().empty()) out += "Hint: " + error.error.hint() + "\n";
  return out;
}

}  // namespace hangar::cli
