// `ritsu-engine data split|build-ft|stats|build-index`: the dataset commands.
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "engine/eval/atomic_file.h"
#include "engine/eval/bm25.h"
#include "engine/eval/corpus.h"
#include "engine/eval/dataset.h"
#include "engine/eval/flags.h"
#include "engine/eval/ft_builder.h"

namespace ritsu::eval {
namespace {

constexpr const char* kUsage =
    "usage: ritsu-engine data <command> [flags]\n"
    "  split        --data F --train-out T --test-out E [--train-size 100] [--test-size 40] [--seed 20251128] [--overwrite]\n"
    "  build-ft     --data F --output O.jsonl [--mode direct|cot] [--with-context] [--overwrite]\n"
    "  stats        --data F\n"
    "  build-index  --output I.json [--data F] [--law-xml-dir D] [--overwrite]\n";

std::string FormatDistribution(const std::map<std::string, int>& d) {
  std::string s;
  for (const auto& [k, v] : d) s += fmt::format("{}{}={}", s.empty() ? "" : " ", k, v);
  return s;
}

void PrintStats(std::ostream& out, const std::string& name, const std::vector<Sample>& s) {
  out << fmt::format("{}: {} samples\n  labels: {}\n  laws:   {}\n", name, s.size(),
                     FormatDistribution(LabelDistribution(s)), FormatDistribution(LawDistribution(s)));
}

int Fail(std::ostream& err, const Status& st, int code = 2) {
  err << "ritsu-engine data: " << st.message() << "\n";
  return code;
}

int SplitCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Flags f({"--data", "--train-out", "--test-out", "--train-size", "--test-size", "--seed"}, {"--overwrite"});
  if (Status st = f.Parse(args); !st.ok()) return Fail(err, st);
  auto data = f.Get("--data"), train_out = f.Get("--train-out"), test_out = f.Get("--test-out");
  if (!data || !train_out || !test_out) return Fail(err, Status::InvalidArgument("split needs --data, --train-out and --test-out"));
  auto train_n = f.GetInt("--train-size", 100, 0);
  auto test_n = f.GetInt("--test-size", 40, 0);
  auto seed = f.GetInt("--seed", 20251128, 0);
  for (const auto* r : {&train_n, &test_n, &seed})
    if (!r->ok()) return Fail(err, r->status());
  const bool ow = f.Has("--overwrite");
  for (const auto& p : {*train_out, *test_out})
    if (Status st = CheckOutputPath(p, ow); !st.ok()) return Fail(err, st);
  auto samples = LoadDataset(*data);
  if (!samples.ok()) return Fail(err, samples.status());
  auto split = SplitDataset(*samples, static_cast<int>(*train_n), static_cast<int>(*test_n), static_cast<uint64_t>(*seed));
  if (!split.ok()) return Fail(err, split.status());
  if (Status st = WriteFileAtomically(*train_out, SamplesToJson(split->train).dump(2) + "\n", ow); !st.ok()) return Fail(err, st, 1);
  if (Status st = WriteFileAtomically(*test_out, SamplesToJson(split->test).dump(2) + "\n", ow); !st.ok()) return Fail(err, st, 1);
  out << fmt::format("split {} samples with seed {} (SplitMix64 Fisher-Yates)\n", samples->size(), *seed);
  PrintStats(out, "train " + *train_out, split->train);
  PrintStats(out, "test  " + *test_out, split->test);
  return 0;
}

int BuildFtCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Flags f({"--data", "--output", "--mode"}, {"--with-context", "--overwrite"});
  if (Status st = f.Parse(args); !st.ok()) return Fail(err, st);
  auto data = f.Get("--data"), output = f.Get("--output");
  if (!data || !output) return Fail(err, Status::InvalidArgument("build-ft needs --data and --output"));
  std::string mode = f.GetOr("--mode", "direct");
  if (mode != "direct" && mode != "cot") return Fail(err, Status::InvalidArgument("--mode must be direct or cot, got " + mode));
  if (Status st = CheckOutputPath(*output, f.Has("--overwrite")); !st.ok()) return Fail(err, st);
  auto samples = LoadDataset(*data);
  if (!samples.ok()) return Fail(err, samples.status());
  std::string jsonl;
  for (const auto& s : *samples)
    jsonl += BuildFtRecord(s, mode == "direct" ? FtMode::kDirect : FtMode::kCot, f.Has("--with-context")).dump() + "\n";
  if (Status st = WriteFileAtomically(*output, jsonl, f.Has("--overwrite")); !st.ok()) return Fail(err, st, 1);
  out << fmt::format("wrote {} {} records ({} context) to {}\n", samples->size(), mode,
                     f.Has("--with-context") ? "with" : "without", *output);
  return 0;
}

int StatsCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Flags f({"--data"}, {});
  if (Status st = f.Parse(args); !st.ok()) return Fail(err, st);
  auto data = f.Get("--data");
  if (!data) return Fail(err, Status::InvalidArgument("stats needs --data"));
  auto samples = LoadDataset(*data);
  if (!samples.ok()) return Fail(err, samples.status());
  PrintStats(out, *data, *samples);
  out << fmt::format("  article passages in コンテキスト: {}\n", CorpusFromDataset(*samples).size());
  return 0;
}

int BuildIndexCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Flags f({"--data", "--output", "--law-xml-dir"}, {"--overwrite"});
  if (Status st = f.Parse(args); !st.ok()) return Fail(err, st);
  auto output = f.Get("--output");
  if (!output || (!f.Get("--data") && !f.Get("--law-xml-dir")))
    return Fail(err, Status::InvalidArgument("build-index needs --output and --data and/or --law-xml-dir"));
  if (Status st = CheckOutputPath(*output, f.Has("--overwrite")); !st.ok()) return Fail(err, st);
  std::vector<Passage> corpus;
  if (auto d = f.Get("--data")) {
    auto samples = LoadDataset(*d);
    if (!samples.ok()) return Fail(err, samples.status());
    corpus = CorpusFromDataset(*samples);
  }
  if (auto x = f.Get("--law-xml-dir")) {
    auto xml = PassagesFromEgovDir(*x);
    if (!xml.ok()) return Fail(err, xml.status());
    MergePassages(&corpus, *xml);
  }
  Bm25Index idx;
  idx.Build(std::move(corpus));
  if (Status st = idx.Save(*output); !st.ok()) return Fail(err, st, 1);
  out << fmt::format("BM25 index of {} passages written to {}\n", idx.size(), *output);
  return 0;
}

}  // namespace

int DataToolMainWith(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return 2;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "split") return SplitCommand(rest, out, err);
  if (args[0] == "build-ft") return BuildFtCommand(rest, out, err);
  if (args[0] == "stats") return StatsCommand(rest, out, err);
  if (args[0] == "build-index") return BuildIndexCommand(rest, out, err);
  err << "ritsu-engine data: unknown command " << args[0] << "\n" << kUsage;
  return 2;
}

int DataToolMain(int argc, char** argv) { return DataToolMainWith(ArgsOf(argc, argv, 1), std::cout, std::cerr); }

}  // namespace ritsu::eval
