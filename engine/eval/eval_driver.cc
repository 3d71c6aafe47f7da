#include "engine/eval/eval_driver.h"

#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "engine/eval/answer_parser.h"
#include "engine/eval/atomic_file.h"
#include "engine/eval/corpus.h"
#include "engine/eval/dataset.h"
#include "engine/eval/eval_report.h"
#include "engine/eval/flags.h"

namespace ritsu::eval {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

EvalBackends& Registered() {
  static EvalBackends backends;
  return backends;
}

Result<Bm25Index> BuildRetriever(const EvalOptions& o, const std::vector<Sample>& data, std::ostream& log) {
  if (!o.index_path.empty()) {
    RITSU_ASSIGN_OR_RETURN(auto idx, Bm25Index::Load(o.index_path));
    log << "retriever: loaded BM25 index " << o.index_path << " (" << idx.size() << " passages)\n";
    return idx;
  }
  std::vector<Passage> corpus;
  if (!o.corpus_data.empty()) {
    RITSU_ASSIGN_OR_RETURN(auto other, LoadDataset(o.corpus_data));
    corpus = CorpusFromDataset(other);
  } else {
    corpus = CorpusFromDataset(data);
  }
  if (!o.law_xml_dir.empty()) {
    RITSU_ASSIGN_OR_RETURN(auto xml, PassagesFromEgovDir(o.law_xml_dir));
    MergePassages(&corpus, xml);
  }
  if (corpus.empty())
    return Status::InvalidArgument("RAG corpus is empty: the data has no コンテキスト and no --law-xml-dir/--index was given; pass --no-rag or a corpus");
  Bm25Index idx;
  idx.Build(std::move(corpus));
  log << "retriever: BM25 over " << idx.size() << " article passages\n";
  return idx;
}

}  // namespace

Result<EvalOptions> ParseEvalOptions(const std::vector<std::string>& args) {
  Flags f({"--data", "--output", "--samples", "--top-k", "--ensemble", "--hf-model-name", "--hf-lora-path",
           "--max-new-tokens", "--seed", "--llm-backend", "--prompt-format", "--rerank-top-n", "--batch-size",
           "--index", "--corpus-data", "--law-xml-dir", "--cot-style", "--device"},
          {"--no-rag", "--use-cot", "--hf-load-in-4bit", "--few-shot", "--no-few-shot", "--use-reranker",
           "--overwrite"});
  RITSU_RETURN_IF_ERROR(f.Parse(args));
  if (!f.positional().empty()) return Status::InvalidArgument("unexpected argument " + f.positional()[0]);
  EvalOptions o;
  o.data = f.GetOr("--data", "");
  o.output = f.GetOr("--output", "");
  if (o.data.empty()) return Status::InvalidArgument("--data is required (a lawqa_jp JSON file)");
  if (o.output.empty()) return Status::InvalidArgument("--output is required (the evaluation JSON to write)");
  RITSU_ASSIGN_OR_RETURN(long long samples, f.GetInt("--samples", 0, 0));
  RITSU_ASSIGN_OR_RETURN(long long top_k, f.GetInt("--top-k", 3, 1));
  RITSU_ASSIGN_OR_RETURN(long long ensemble, f.GetInt("--ensemble", 1, 1));
  RITSU_ASSIGN_OR_RETURN(long long max_new, f.GetInt("--max-new-tokens", 0, 1));
  RITSU_ASSIGN_OR_RETURN(long long seed, f.GetInt("--seed", 42, 0));
  RITSU_ASSIGN_OR_RETURN(long long rerank_top_n, f.GetInt("--rerank-top-n", 3, 1));
  RITSU_ASSIGN_OR_RETURN(long long batch, f.GetInt("--batch-size", 8, 1));
  o.samples = static_cast<int>(samples);
  o.top_k = static_cast<int>(top_k);
  o.ensemble = static_cast<int>(ensemble);
  o.max_new_tokens = static_cast<int>(max_new);
  o.seed = static_cast<uint64_t>(seed);
  o.rerank_top_n = static_cast<int>(rerank_top_n);
  o.batch_size = static_cast<int>(batch);
  o.rag = !f.Has("--no-rag");
  o.cot = f.Has("--use-cot");
  std::string style = f.GetOr("--cot-style", "detailed");
  if (style == "compact") o.cot_style = PromptMode::kCotCompact;
  else if (style == "detailed") o.cot_style = PromptMode::kCotDetailed;
  else return Status::InvalidArgument("--cot-style must be compact or detailed, got " + style);
  if (f.Has("--few-shot") && f.Has("--no-few-shot")) return Status::InvalidArgument("--few-shot and --no-few-shot are exclusive");
  o.few_shot = !f.Has("--no-few-shot");
  o.hf_model_name = f.GetOr("--hf-model-name", "");
  o.hf_lora_path = f.GetOr("--hf-lora-path", "");
  o.load_in_4bit = f.Has("--hf-load-in-4bit");
  o.llm_backend = f.GetOr("--llm-backend", "hf");
  if (o.llm_backend != "hf")
    return Status::InvalidArgument("--llm-backend " + o.llm_backend + " is not supported: ritsu generates with its own engine; use --llm-backend hf (the default)");
  std::string fmt_name = f.GetOr("--prompt-format", "plain");
  if (fmt_name == "plain") o.prompt_format = PromptFormat::kPlain;
  else if (fmt_name == "chat") o.prompt_format = PromptFormat::kChat;
  else return Status::InvalidArgument("--prompt-format must be plain or chat, got " + fmt_name);
  o.use_reranker = f.Has("--use-reranker");
  if (f.Has("--rerank-top-n") && !o.use_reranker) return Status::InvalidArgument("--rerank-top-n needs --use-reranker");
  if (o.use_reranker && !o.rag) return Status::InvalidArgument("--use-reranker needs retrieval; drop --no-rag");
  o.overwrite = f.Has("--overwrite");
  o.index_path = f.GetOr("--index", "");
  o.corpus_data = f.GetOr("--corpus-data", "");
  o.law_xml_dir = f.GetOr("--law-xml-dir", "");
  o.device = f.GetOr("--device", "auto");
  if (!o.rag && (!o.index_path.empty() || !o.corpus_data.empty() || !o.law_xml_dir.empty()))
    return Status::InvalidArgument("--index/--corpus-data/--law-xml-dir need retrieval; drop --no-rag");
  return o;
}

void RegisterEvalBackends(EvalBackends backends) { Registered() = std::move(backends); }

Result<nlohmann::json> RunEvaluation(const EvalOptions& o, TextGenerator& generator,
                                     const ChatRenderer& chat, const RerankScorer& reranker,
                                     std::ostream& log) {
  RITSU_RETURN_IF_ERROR(CheckOutputPath(o.output, o.overwrite));
  RITSU_ASSIGN_OR_RETURN(nlohmann::json doc, EvaluateToDocument(o, generator, chat, reranker, log));
  RITSU_RETURN_IF_ERROR(WriteFileAtomically(o.output, doc.dump(2) + "\n", o.overwrite));
  RITSU_RETURN_IF_ERROR(WriteMetricsFileIfRequested(doc["summary"]));
  return doc;
}

Result<nlohmann::json> EvaluateToDocument(const EvalOptions& o, TextGenerator& generator,
                                          const ChatRenderer& chat, const RerankScorer& reranker,
                                          std::ostream& log) {
  const auto t_start = Clock::now();
  RITSU_ASSIGN_OR_RETURN(auto data, LoadDataset(o.data));
  if (o.samples > 0 && static_cast<size_t>(o.samples) < data.size()) data.resize(static_cast<size_t>(o.samples));
  if (o.prompt_format == PromptFormat::kChat && !chat)
    return Status::FailedPrecondition("--prompt-format chat needs the tokenizer's chat template, which this build did not provide");
  if (o.use_reranker && !reranker)
    return Status::FailedPrecondition("--use-reranker needs a reranking scorer, which this build did not provide");

  // Retrieval.
  double retrieval_s = 0;
  std::vector<std::vector<Hit>> hits(data.size());
  Bm25Index index;
  if (o.rag) {
    const auto t0 = Clock::now();
    RITSU_ASSIGN_OR_RETURN(index, BuildRetriever(o, data, log));
    for (size_t i = 0; i < data.size(); ++i) {
      const std::string query = data[i].question + "\n" + data[i].choices_text;
      hits[i] = index.Search(query, o.top_k);
      if (o.use_reranker) hits[i] = Rerank(index, data[i].question, hits[i], o.rerank_top_n, reranker);
    }
    retrieval_s = Seconds(t0, Clock::now());
  }

  // Prompts.
  PromptOptions popts;
  popts.mode = o.cot ? o.cot_style : PromptMode::kDirect;
  popts.few_shot = o.few_shot;
  std::vector<std::string> prompts;
  for (size_t i = 0; i < data.size(); ++i) {
    std::vector<Passage> passages;
    for (const auto& h : hits[i]) passages.push_back(index.passages()[static_cast<size_t>(h.doc)]);
    std::string user = BuildPrompt(data[i], o.rag ? FormatContext(passages) : "", popts);
    prompts.push_back(o.prompt_format == PromptFormat::kChat ? chat(user) : user);
  }

  // Generation: `ensemble` runs over all questions, batched across questions.
  std::vector<std::vector<std::string>> responses(data.size());
  std::vector<double> latency(data.size(), 0.0);
  double generation_s = 0;
  for (int run = 0; run < o.ensemble; ++run) {
    GenOptions g;
    g.max_new_tokens = o.EffectiveMaxNewTokens();
    g.do_sample = o.ensemble > 1;
    g.seed = o.seed + static_cast<uint64_t>(run);
    for (size_t begin = 0; begin < prompts.size(); begin += static_cast<size_t>(o.batch_size)) {
      const size_t end = std::min(prompts.size(), begin + static_cast<size_t>(o.batch_size));
      std::vector<std::string> batch(prompts.begin() + static_cast<long>(begin), prompts.begin() + static_cast<long>(end));
      const auto t0 = Clock::now();
      std::vector<std::string> out = generator.GenerateBatch(batch, g);
      const double dt = Seconds(t0, Clock::now());
      generation_s += dt;
      if (out.size() != batch.size())
        return Status::Internal(fmt::format("generator returned {} completions for {} prompts", out.size(), batch.size()));
      for (size_t k = 0; k < out.size(); ++k) {
        responses[begin + k].push_back(std::move(out[k]));
        // Batched generation has no per-question wall time; each question is charged its
        // share of the batch.
        latency[begin + k] += dt / static_cast<double>(batch.size());
      }
      log << fmt::format("run {}/{}: questions {}-{} of {} in {:.2f}s\n", run + 1, o.ensemble, begin + 1, end, data.size(), dt);
    }
  }

  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < data.size(); ++i) {
    const Sample& s = data[i];
    std::vector<std::string> votes;
    std::string rule;
    for (const auto& r : responses[i]) {
      ParsedAnswer p = ParseAnswer(r);
      votes.push_back(p.Letter());
      if (rule.empty()) rule = p.rule;
    }
    const std::string predicted = o.ensemble > 1 ? MajorityVote(votes) : votes[0];
    nlohmann::json r;
    r["question"] = s.question;
    r["choices"] = s.choices_text;
    r["correct_answer"] = std::string(1, s.answer);
    r["predicted_answer"] = predicted;
    r["is_correct"] = predicted == std::string(1, s.answer);
    r["response"] = responses[i][0];
    r["retrieved_docs_count"] = hits[i].size();
    r["file_name"] = s.file_name;
    r["references"] = s.references;
    r["index"] = s.index;
    r["parse_rule"] = rule;
    r["latency_seconds"] = latency[i];
    nlohmann::json retrieved = nlohmann::json::array();
    for (const auto& h : hits[i]) {
      const Passage& p = index.passages()[static_cast<size_t>(h.doc)];
      retrieved.push_back({{"id", p.id}, {"score", h.score}, {"text", p.text}});
    }
    r["retrieved"] = retrieved;
    if (o.ensemble > 1) {
      r["responses"] = responses[i];
      r["votes"] = votes;
    }
    if (o.cot) r["reasoning"] = responses[i][0];
    results.push_back(std::move(r));
  }

  nlohmann::json config;
  config["rag_enabled"] = o.rag;
  config["retriever_type"] = o.rag ? (o.index_path.empty() ? "bm25" : "bm25-index") : nlohmann::json(nullptr);
  config["llm_model"] = o.hf_model_name;
  config["llm_backend"] = o.llm_backend;
  config["generator"] = generator.Describe();
  config["lora_path"] = o.hf_lora_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.hf_lora_path);
  config["load_in_4bit"] = o.load_in_4bit;
  config["few_shot_enabled"] = o.few_shot;
  config["cot_enabled"] = o.cot;
  config["cot_style"] = o.cot ? (o.cot_style == PromptMode::kCotCompact ? "compact" : "detailed") : nlohmann::json(nullptr);
  config["reranker_enabled"] = o.use_reranker;
  config["reranker_model"] = o.use_reranker ? nlohmann::json("llm") : nlohmann::json(nullptr);
  config["rerank_top_n"] = o.use_reranker ? nlohmann::json(o.rerank_top_n) : nlohmann::json(nullptr);
  config["ensemble_runs"] = o.ensemble;
  config["top_k"] = o.top_k;
  config["total_samples"] = data.size();
  config["max_new_tokens"] = o.EffectiveMaxNewTokens();
  config["seed"] = o.seed;
  config["prompt_format"] = o.prompt_format == PromptFormat::kChat ? "chat" : "plain";
  config["data"] = o.data;
  config["batch_size"] = o.batch_size;

  nlohmann::json summary = ComputeSummary(results);
  const double total_s = Seconds(t_start, Clock::now());
  summary["timing"] = {{"total_seconds", total_s},
                       {"retrieval_seconds", retrieval_s},
                       {"generation_seconds", generation_s},
                       {"mean_latency_seconds", data.empty() ? 0.0 : generation_s / static_cast<double>(data.size())},
                       {"questions_per_second", generation_s > 0 ? static_cast<double>(data.size()) / generation_s : 0.0}};

  return nlohmann::json{{"config", config}, {"summary", summary}, {"results", results}};
}

int EvalMainWith(const std::vector<std::string>& args, const EvalBackends& backends,
                 std::ostream& out, std::ostream& err) {
  auto opts = ParseEvalOptions(args);
  if (!opts.ok()) {
    err << "ritsu eval: " << opts.status().message() << "\n";
    return 2;
  }
  if (Status st = CheckOutputPath(opts->output, opts->overwrite); !st.ok()) {
    err << "ritsu eval: " << st.message() << "\n";
    return 2;
  }
  if (!backends.make_generator) {
    err << "ritsu eval: this binary has no text generator registered: its `eval` subcommand must "
           "call ritsu::eval::EngineEvalMain (engine/eval/engine_generator.h, library "
           "ritsu_eval_engine) rather than EvalMain\n";
    return 1;
  }
  auto gen = backends.make_generator(*opts);
  if (!gen.ok()) {
    err << "ritsu eval: loading the model: " << gen.status().message() << "\n";
    return 1;
  }
  ChatRenderer chat;
  if (opts->prompt_format == PromptFormat::kChat) {
    if (!backends.make_chat_renderer) {
      err << "ritsu eval: --prompt-format chat is not available in this binary\n";
      return 1;
    }
    auto c = backends.make_chat_renderer(*opts);
    if (!c.ok()) {
      err << "ritsu eval: chat template: " << c.status().message() << "\n";
      return 1;
    }
    chat = *c;
  }
  RerankScorer rerank;
  if (opts->use_reranker) {
    if (!backends.make_reranker) {
      err << "ritsu eval: --use-reranker is not available in this binary\n";
      return 1;
    }
    auto r = backends.make_reranker(*opts, gen->get());
    if (!r.ok()) {
      err << "ritsu eval: reranker: " << r.status().message() << "\n";
      return 1;
    }
    rerank = *r;
  }
  auto doc = RunEvaluation(*opts, **gen, chat, rerank, err);
  if (!doc.ok()) {
    err << "ritsu eval: " << doc.status().message() << "\n";
    return doc.status().code() == Status::Code::kInvalidArgument || doc.status().code() == Status::Code::kNotFound ||
                   doc.status().code() == Status::Code::kAlreadyExists
               ? 2
               : 1;
  }
  const auto& s = (*doc)["summary"];
  out << fmt::format("EVALUATION RESULTS\naccuracy {:.4f} ({}/{}), unknown {}\nwritten to {}\n",
                     s["accuracy"].get<double>(), s["correct_count"].get<int>(), s["total_count"].get<int>(),
                     s["unknown_count"].get<int>(), opts->output);
  return 0;
}

int EvalMain(int argc, char** argv) {
  return EvalMainWith(ArgsOf(argc, argv, 1), Registered(), std::cout, std::cerr);
}

}  // namespace ritsu::eval
