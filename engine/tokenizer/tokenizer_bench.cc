// Tokenizer speed (a benchmark, not a test): loading Qwen's tokenizer.json, encoding every
// text of the 140 lawqa_jp samples (selection.json) with a cold and a warm word cache, and
// decoding them back. Run:
//   build/engine/tokenizer/ritsu_tokenizer_bench [--benchmark_filter=Encode]
#include <benchmark/benchmark.h>

#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.h"

namespace ritsu::tokenizer {
namespace {

const std::string kShared = RITSU_DATA_ROOT;
const std::string kModel = kShared + "/models/qwen3-tokenizer";

void Collect(const nlohmann::json& v, std::vector<std::string>* out) {
  if (v.is_string()) out->push_back(v.get<std::string>());
  if (v.is_array() || v.is_object()) {
    for (const auto& x : v) Collect(x, out);
  }
}

const std::vector<std::string>& LawqaTexts() {
  static const std::vector<std::string> texts = [] {
    std::ifstream in(kShared + "/data/lawqa_jp/selection.json");
    std::vector<std::string> t;
    Collect(nlohmann::json::parse(in), &t);
    return t;
  }();
  return texts;
}

Tokenizer MustLoad() {
  auto r = Tokenizer::Load(kModel);
  if (!r.ok()) {
    std::cerr << r.status().ToString() << "\n";
    std::exit(2);
  }
  return std::move(r).value();
}

void BM_Load(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(MustLoad());
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond)->Iterations(3);

void EncodeAll(const Tokenizer& tok, benchmark::State& state) {
  size_t tokens = 0, bytes = 0;
  for (const auto& t : LawqaTexts()) {
    tokens += tok.Encode(t).size();
    bytes += t.size();
  }
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(state.bytes_processed() + static_cast<int64_t>(bytes));
}

// A fresh tokenizer per iteration (its load is not timed): every word goes through BPE.
void BM_EncodeLawqaColdCache(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    Tokenizer tok = MustLoad();
    state.ResumeTiming();
    EncodeAll(tok, state);
  }
}
BENCHMARK(BM_EncodeLawqaColdCache)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_EncodeLawqaWarmCache(benchmark::State& state) {
  static const Tokenizer tok = MustLoad();
  EncodeAll(tok, state);  // warm-up outside the timed loop
  for (auto _ : state) EncodeAll(tok, state);
}
BENCHMARK(BM_EncodeLawqaWarmCache)->Unit(benchmark::kMillisecond);

void BM_DecodeLawqa(benchmark::State& state) {
  static const Tokenizer tok = MustLoad();
  std::vector<std::vector<int32_t>> ids;
  for (const auto& t : LawqaTexts()) ids.push_back(tok.Encode(t));
  for (auto _ : state) {
    for (const auto& v : ids) benchmark::DoNotOptimize(tok.Decode(v));
  }
}
BENCHMARK(BM_DecodeLawqa)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ritsu::tokenizer

BENCHMARK_MAIN();
