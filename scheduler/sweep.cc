#include "scheduler/sweep.h"

#include <functional>
#include <random>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>  // Debian ships toml.h (not toml.hpp) with a shared library

#include "common/protocol.h"
#include "common/spec_check.h"
#include "common/units.h"

namespace ritsu::sched {
namespace {

const std::set<std::string> kStepKeys = {
    "name", "kind", "argv", "cwd", "env", "gpus", "gpu_mem", "tags", "host", "priority",
    "max_attempts", "timeout", "after", "labels"};

std::string Where(const toml::node& n) {
  const auto& src = n.source();
  if (src.begin.line == 0) return "";
  return fmt::format(" (line {})", src.begin.line);
}

// A scalar TOML value as the text that is substituted: strings as is, numbers in their
// shortest form (1e-4 -> "0.0001"), booleans as true/false.
Result<std::string> ScalarText(const toml::node& n, const std::string& what) {
  if (auto s = n.value<std::string>(); s && n.is_string()) return *s;
  if (n.is_integer()) return std::to_string(*n.value<int64_t>());
  if (n.is_floating_point()) return fmt::format("{}", *n.value<double>());
  if (n.is_boolean()) return std::string(*n.value<bool>() ? "true" : "false");
  return Status::InvalidArgument(fmt::format("{}{}: must be a string, number or boolean", what, Where(n)));
}

Result<std::vector<std::string>> StringList(const toml::node& n, const std::string& what) {
  const toml::array* a = n.as_array();
  if (!a) return Status::InvalidArgument(fmt::format("{}{}: must be an array", what, Where(n)));
  std::vector<std::string> out;
  for (size_t i = 0; i < a->size(); ++i) {
    RITSU_ASSIGN_OR_RETURN(auto s, ScalarText(*a->get(i), fmt::format("{}[{}]", what, i)));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::map<std::string, std::string>> StringTable(const toml::node& n, const std::string& what) {
  const toml::table* t = n.as_table();
  if (!t) return Status::InvalidArgument(fmt::format("{}{}: must be a table", what, Where(n)));
  std::map<std::string, std::string> out;
  for (auto&& [k, v] : *t) {
    RITSU_ASSIGN_OR_RETURN(auto s, ScalarText(v, fmt::format("{}.{}", what, k.str())));
    out[std::string(k.str())] = std::move(s);
  }
  return out;
}

Result<int64_t> Integer(const toml::node& n, const std::string& what, int64_t lo, int64_t hi) {
  if (!n.is_integer()) return Status::InvalidArgument(fmt::format("{}{}: must be an integer", what, Where(n)));
  int64_t v = *n.value<int64_t>();
  if (v < lo || v > hi) {
    return Status::InvalidArgument(fmt::format("{}{}: must be in [{}, {}] (got {})", what, Where(n), lo, hi, v));
  }
  return v;
}

// A step's fields before substitution (strings still hold placeholders).
struct RawStep {
  std::string name;
  std::string kind = "exec";
  std::vector<std::string> argv;
  std::string cwd;
  std::map<std::string, std::string> env, labels;
  uint32_t gpus = 0;
  uint64_t gpu_mem = 0;
  std::vector<std::string> tags;
  std::string host;
  int32_t priority = 0;
  uint32_t max_attempts = 1;
  int64_t timeout_ms = 0;
  std::vector<std::string> after;
};

// Applies the keys of `t` onto `s` (so [base] then [[step]] overrides it).
Status ApplyStepTable(const toml::table& t, const std::string& what, RawStep* s) {
  for (auto&& [k, v] : t) {
    std::string key(k.str());
    std::string field = what + "." + key;
    if (!kStepKeys.count(key)) {
      return Status::InvalidArgument(fmt::format(
          "{}{}: unknown key (known: name, kind, argv, cwd, env, gpus, gpu_mem, tags, host, "
          "priority, max_attempts, timeout, after, labels)", field, Where(v)));
    }
    if (key == "name") { RITSU_ASSIGN_OR_RETURN(s->name, ScalarText(v, field)); }
    else if (key == "kind") {
      RITSU_ASSIGN_OR_RETURN(s->kind, ScalarText(v, field));
      auto k2 = ParseTaskKind(s->kind);
      if (!k2.ok()) return k2.status().Annotate(field);
    }
    else if (key == "argv") { RITSU_ASSIGN_OR_RETURN(s->argv, StringList(v, field)); }
    else if (key == "cwd") { RITSU_ASSIGN_OR_RETURN(s->cwd, ScalarText(v, field)); }
    else if (key == "env") { RITSU_ASSIGN_OR_RETURN(s->env, StringTable(v, field)); }
    else if (key == "labels") { RITSU_ASSIGN_OR_RETURN(s->labels, StringTable(v, field)); }
    else if (key == "gpus") { RITSU_ASSIGN_OR_RETURN(auto g, Integer(v, field, 0, kMaxGpus)); s->gpus = static_cast<uint32_t>(g); }
    else if (key == "gpu_mem") {
      RITSU_ASSIGN_OR_RETURN(auto text, ScalarText(v, field));
      auto sz = ParseSize(text);
      if (!sz.ok()) return sz.status().Annotate(field + Where(v));
      s->gpu_mem = *sz;
    }
    else if (key == "tags") { RITSU_ASSIGN_OR_RETURN(s->tags, StringList(v, field)); }
    else if (key == "host") { RITSU_ASSIGN_OR_RETURN(s->host, ScalarText(v, field)); }
    else if (key == "priority") { RITSU_ASSIGN_OR_RETURN(auto p, Integer(v, field, kMinPriority, kMaxPriority)); s->priority = static_cast<int32_t>(p); }
    else if (key == "max_attempts") { RITSU_ASSIGN_OR_RETURN(auto m, Integer(v, field, 1, kMaxAttempts)); s->max_attempts = static_cast<uint32_t>(m); }
    else if (key == "timeout") {
      RITSU_ASSIGN_OR_RETURN(auto text, ScalarText(v, field));
      auto d = ParseDuration(text);
      if (!d.ok()) return d.status().Annotate(field + Where(v));
      s->timeout_ms = *d;
    }
    else if (key == "after") { RITSU_ASSIGN_OR_RETURN(s->after, StringList(v, field)); }
  }
  return Status::Ok();
}

// Orders steps so each comes after the ones it names; refuses unknown names and cycles.
Result<std::vector<size_t>> TopoOrder(const std::vector<RawStep>& steps, const std::string& file) {
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < steps.size(); ++i) by_name[steps[i].name] = i;
  std::vector<std::string> names;
  for (const auto& s : steps) names.push_back(s.name);
  std::vector<int> mark(steps.size(), 0);  // 0 new, 1 on the DFS stack, 2 done
  std::vector<size_t> order, stack;
  std::function<Status(size_t)> visit = [&](size_t i) -> Status {
    if (mark[i] == 2) return Status::Ok();
    if (mark[i] == 1) {
      std::string cycle;
      auto it = std::find(stack.begin(), stack.end(), i);
      for (; it != stack.end(); ++it) cycle += steps[*it].name + " -> ";
      cycle += steps[i].name;
      return Status::InvalidArgument(fmt::format("{}: the steps' 'after' lists form a cycle: {}", file, cycle));
    }
    mark[i] = 1;
    stack.push_back(i);
    for (const auto& a : steps[i].after) {
      auto d = by_name.find(a);
      if (d == by_name.end()) {
        return Status::InvalidArgument(fmt::format("{}: [[step]] '{}': after = '{}': no step has that name (steps: {})",
                                                   file, steps[i].name, a, fmt::join(names, ", ")));
      }
      RITSU_RETURN_IF_ERROR(visit(d->second));
    }
    stack.pop_back();
    mark[i] = 2;
    order.push_back(i);
    return Status::Ok();
  };
  for (size_t i = 0; i < steps.size(); ++i) RITSU_RETURN_IF_ERROR(visit(i));
  return order;
}

// Uniform integer in [0, n) from a 64-bit generator, by rejection (no modulo bias, and unlike
// std::uniform_int_distribution the same on every standard library).
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do { x = rng(); } while (x >= limit);
  return x % n;
}

Result<TaskSpec> Instantiate(const RawStep& raw, const std::map<std::string, std::string>& vars,
                             const std::string& what) {
  TaskSpec s;
  auto sub = [&](const std::string& text, const std::string& field) -> Result<std::string> {
    auto r = Substitute(text, vars);
    if (!r.ok()) return r.status().Annotate(what + "." + field);
    return r;
  };
  RITSU_ASSIGN_OR_RETURN(s.name, sub(raw.name, "name"));
  s.kind = *ParseTaskKind(raw.kind);
  for (size_t i = 0; i < raw.argv.size(); ++i) {
    RITSU_ASSIGN_OR_RETURN(auto a, sub(raw.argv[i], fmt::format("argv[{}]", i)));
    s.argv.push_back(std::move(a));
  }
  RITSU_ASSIGN_OR_RETURN(s.cwd, sub(raw.cwd, "cwd"));
  for (const auto& [k, v] : raw.env) { RITSU_ASSIGN_OR_RETURN(s.env[k], sub(v, "env." + k)); }
  for (const auto& [k, v] : raw.labels) { RITSU_ASSIGN_OR_RETURN(s.labels[k], sub(v, "labels." + k)); }
  s.resources.gpus = raw.gpus;
  s.resources.gpu_mem_bytes = raw.gpu_mem;
  s.resources.tags = raw.tags;
  s.resources.host = raw.host;
  s.priority = raw.priority;
  s.max_attempts = raw.max_attempts;
  s.timeout_ms = raw.timeout_ms;
  return s;
}

}  // namespace

Result<std::string> Substitute(std::string_view text, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') { out += '{'; ++i; continue; }
    if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') { out += '}'; ++i; continue; }
    if (c != '{') { out += c; continue; }
    size_t close = text.find('}', i);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("'{}': unclosed '{{' (write {{{{ for a literal brace)", text));
    }
    std::string name(text.substr(i + 1, close - i - 1));
    auto it = vars.find(name);
    if (it == vars.end()) {
      std::vector<std::string> known;
      for (const auto& [k, v] : vars) known.push_back("{" + k + "}");
      return Status::InvalidArgument(fmt::format("'{}': unknown placeholder {{{}}} (known: {})", text, name,
                                                 fmt::join(known, " ")));
    }
    out += it->second;
    i = close;
  }
  return out;
}

Result<ExpandedSweep> ExpandSweep(std::string_view toml_text, const std::string& file) {
  toml::table root;
  try {
    root = toml::parse(toml_text, file);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(fmt::format("{}: line {}, column {}: {}", file, e.source().begin.line,
                                               e.source().begin.column, e.description()));
  }
  static const std::set<std::string> kTop = {"sweep", "grid", "trial", "base", "step"};
  for (auto&& [k, v] : root) {
    if (!kTop.count(std::string(k.str()))) {
      return Status::InvalidArgument(fmt::format("{}: unknown top-level key '{}'{} (known: [sweep], [grid], [trial], [base], [[step]])",
                                                 file, k.str(), Where(v)));
    }
  }
  ExpandedSweep out;
  uint64_t sample = 0, seed = 0;
  if (const toml::node* sw = root.get("sweep")) {
    const toml::table* t = sw->as_table();
    if (!t) return Status::InvalidArgument(file + ": [sweep] must be a table");
    for (auto&& [k, v] : *t) {
      std::string key(k.str()), field = file + ": sweep." + key;
      if (key == "name") { RITSU_ASSIGN_OR_RETURN(out.name, ScalarText(v, field)); }
      else if (key == "max_concurrent") { RITSU_ASSIGN_OR_RETURN(auto m, Integer(v, field, 0, 100000)); out.max_concurrent = static_cast<uint32_t>(m); }
      else if (key == "sample") { RITSU_ASSIGN_OR_RETURN(auto n, Integer(v, field, 1, kMaxSweepTrials)); sample = static_cast<uint64_t>(n); }
      else if (key == "seed") { RITSU_ASSIGN_OR_RETURN(auto n, Integer(v, field, 0, INT64_MAX)); seed = static_cast<uint64_t>(n); }
      else return Status::InvalidArgument(fmt::format("{}{}: unknown key (known: name, max_concurrent, sample, seed)", field, Where(v)));
    }
  }
  if (out.name.empty()) out.name = file;

  // Grid: parameter -> values; the product in key order, last key varying fastest.
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;
  if (const toml::node* g = root.get("grid")) {
    const toml::table* t = g->as_table();
    if (!t) return Status::InvalidArgument(file + ": [grid] must be a table of arrays");
    for (auto&& [k, v] : *t) {
      std::string field = fmt::format("{}: grid.{}", file, k.str());
      RITSU_ASSIGN_OR_RETURN(auto vals, StringList(v, field));
      if (vals.empty()) return Status::InvalidArgument(field + Where(v) + ": empty list of values");
      grid.emplace_back(std::string(k.str()), std::move(vals));
    }
  }
  uint64_t points = 1;
  for (const auto& [k, vals] : grid) {
    points *= vals.size();
    if (points > 1'000'000) return Status::InvalidArgument(file + ": the grid has more than 1000000 points");
  }
  std::vector<uint64_t> chosen;
  if (sample > 0) {
    if (sample > points) {
      return Status::InvalidArgument(fmt::format("{}: sweep.sample = {} but the grid has only {} points", file, sample, points));
    }
    // Partial Fisher-Yates over the point indices with a seeded generator: the same file and
    // seed always give the same trials.
    std::vector<uint64_t> idx(points);
    for (uint64_t i = 0; i < points; ++i) idx[i] = i;
    std::mt19937_64 rng(seed);
    for (uint64_t i = 0; i < sample; ++i) std::swap(idx[i], idx[i + UniformBelow(rng, points - i)]);
    chosen.assign(idx.begin(), idx.begin() + static_cast<long>(sample));
  } else {
    if (points > kMaxSweepTrials) {
      return Status::InvalidArgument(fmt::format("{}: the grid has {} points, more than {} trials; use sweep.sample", file, points, kMaxSweepTrials));
    }
    for (uint64_t i = 0; i < points; ++i) chosen.push_back(i);
  }

  std::map<std::string, std::string> trial_vars;
  if (const toml::node* tv = root.get("trial")) {
    RITSU_ASSIGN_OR_RETURN(trial_vars, StringTable(*tv, file + ": trial"));
  }

  RawStep base;
  if (const toml::node* b = root.get("base")) {
    const toml::table* t = b->as_table();
    if (!t) return Status::InvalidArgument(file + ": [base] must be a table");
    RITSU_RETURN_IF_ERROR(ApplyStepTable(*t, file + ": base", &base));
    if (!base.after.empty()) return Status::InvalidArgument(file + ": base.after: only a [[step]] may have 'after'");
  }
  std::vector<RawStep> steps;
  if (const toml::node* st = root.get("step")) {
    const toml::array* a = st->as_array();
    if (!a || !a->is_array_of_tables()) return Status::InvalidArgument(file + ": 'step' must be an array of tables ([[step]])");
    std::set<std::string> seen;
    for (size_t i = 0; i < a->size(); ++i) {
      RawStep s = base;
      s.name.clear();
      RITSU_RETURN_IF_ERROR(ApplyStepTable(*a->get(i)->as_table(), fmt::format("{}: step[{}]", file, i), &s));
      if (s.name.empty()) return Status::InvalidArgument(fmt::format("{}: step[{}]: needs a name", file, i));
      if (!seen.insert(s.name).second) return Status::InvalidArgument(fmt::format("{}: step[{}]: duplicate step name '{}'", file, i, s.name));
      steps.push_back(std::move(s));
    }
  } else {
    RawStep s = base;
    if (s.name.empty()) s.name = "main";
    steps.push_back(std::move(s));
  }
  for (auto& s : steps) {
    if (s.argv.empty()) return Status::InvalidArgument(fmt::format("{}: step '{}': argv is missing or empty", file, s.name));
  }
  RITSU_ASSIGN_OR_RETURN(auto order, TopoOrder(steps, file));
  if (chosen.size() * steps.size() > kMaxSubmitBatch) {
    return Status::InvalidArgument(fmt::format("{}: {} trials x {} steps = {} tasks, more than {} per sweep", file,
                                               chosen.size(), steps.size(), chosen.size() * steps.size(), kMaxSubmitBatch));
  }

  for (size_t ti = 0; ti < chosen.size(); ++ti) {
    ExpandedTrial trial;
    trial.trial = static_cast<uint32_t>(ti);
    uint64_t rem = chosen[ti];
    for (size_t gi = grid.size(); gi-- > 0;) {
      const auto& vals = grid[gi].second;
      trial.params[grid[gi].first] = vals[rem % vals.size()];
      rem /= vals.size();
    }
    std::map<std::string, std::string> vars = trial.params;
    vars["sweep.name"] = out.name;
    vars["trial"] = std::to_string(ti);
    vars["trial.index"] = std::to_string(ti);
    for (const auto& [k, v] : trial_vars) {
      auto r = Substitute(v, vars);
      if (!r.ok()) return r.status().Annotate(fmt::format("{}: trial.{}", file, k));
      vars["trial." + k] = *r;
    }
    for (size_t oi : order) {
      const RawStep& raw = steps[oi];
      vars["step"] = raw.name;
      std::string what = fmt::format("{}: step '{}'", file, raw.name);
      RITSU_ASSIGN_OR_RETURN(TaskSpec spec, Instantiate(raw, vars, what));
      if (raw.name == "main" && spec.name == "main") spec.name = fmt::format("{}-{}", out.name, ti);
      spec.labels["sweep.trial"] = std::to_string(ti);
      spec.labels["sweep.step"] = raw.name;
      for (const auto& [k, v] : trial.params) spec.labels["param." + k] = v;
      trial.steps.push_back(ExpandedStep{raw.name, std::move(spec), raw.after});
    }
    out.trials.push_back(std::move(trial));
  }
  return out;
}

std::vector<TaskSpec> FlattenSweep(const ExpandedSweep& sweep, std::vector<std::vector<uint32_t>>* index_of) {
  std::vector<TaskSpec> specs;
  index_of->clear();
  for (const auto& trial : sweep.trials) {
    std::map<std::string, uint32_t> pos;
    index_of->emplace_back();
    for (const auto& st : trial.steps) {
      TaskSpec s = st.spec;
      for (const auto& a : st.after) s.after_in_batch.push_back(pos.at(a));
      pos[st.step] = static_cast<uint32_t>(specs.size());
      index_of->back().push_back(static_cast<uint32_t>(specs.size()));
      specs.push_back(std::move(s));
    }
  }
  return specs;
}

}  // namespace ritsu::sched
