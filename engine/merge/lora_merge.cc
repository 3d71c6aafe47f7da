#include "engine/merge/lora_merge.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "common/atomic_file.h"
#include "engine/merge/ollama_modelfile.h"
#include "engine/model/config.h"
#include "engine/model/lora_adapter.h"
#include "engine/model/safetensors.h"

namespace ritsu::merge {
namespace {

namespace fs = std::filesystem;
using engine::DType;

// Files copied from the base (or --tokenizer) directory when present.
const char* const kTokenizerFiles[] = {"tokenizer.json",          "tokenizer_config.json", "vocab.json",
                                       "merges.txt",              "special_tokens_map.json", "added_tokens.json",
                                       "chat_template.jinja"};

// Removes the temporary output directory unless the merge committed it.
class TempDirGuard {
 public:
  explicit TempDirGuard(fs::path p) : path_(std::move(p)) {}
  ~TempDirGuard() {
    if (!committed_) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  void Commit() { committed_ = true; }

 private:
  fs::path path_;
  bool committed_ = false;
};

bool LooksQuantizedName(const std::string& name) {
  for (const char* part : {".absmax", ".quant_map", ".quant_state", ".nested_absmax", ".nested_quant_map", ".SCB",
                           ".weight_format", ".qweight", ".qzeros", ".scales"}) {
    if (name.find(part) != std::string::npos) return true;
  }
  return false;
}

Status CheckBaseIsUnquantized(const engine::Checkpoint& ck, const std::string& dir) {
  for (const auto& [name, view] : ck.tensors()) {
    const bool float_type = view.dtype == DType::kF32 || view.dtype == DType::kF16 || view.dtype == DType::kBF16;
    if (!float_type || LooksQuantizedName(name)) {
      return Status::InvalidArgument(fmt::format(
          "base {}: tensor {} ({}) belongs to a quantized checkpoint; merge reads the original bf16/fp16 "
          "weights (point --base at the unquantized model)", dir, name, engine::DTypeName(view.dtype)));
    }
  }
  return Status::Ok();
}

Status CopyFile(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError(fmt::format("copying {} to {}: {}", from.string(), to.string(), ec.message()));
  return Status::Ok();
}

Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return Status::IOError("cannot write " + path.string());
  return Status::Ok();
}

// generation_config.json: the base's own when it has one, else the special ids of config.json.
Status WriteGenerationConfig(const fs::path& base, const engine::ModelConfig& config, const fs::path& out) {
  if (fs::exists(base / "generation_config.json")) return CopyFile(base / "generation_config.json", out);
  nlohmann::json j = nlohmann::json::object();
  if (config.bos_token_id >= 0) j["bos_token_id"] = config.bos_token_id;
  if (config.eos_token_ids.size() == 1) j["eos_token_id"] = config.eos_token_ids[0];
  if (config.eos_token_ids.size() > 1) j["eos_token_id"] = config.eos_token_ids;
  return WriteText(out, j.dump(2) + "\n");
}

}  // namespace

void AddLoraDelta(float* w, const float* a, const float* b, int64_t out_f, int64_t in_f, int64_t r, float scale) {
  std::vector<float> delta(static_cast<size_t>(in_f));
  for (int64_t o = 0; o < out_f; ++o) {
    std::fill(delta.begin(), delta.end(), 0.0f);
    for (int64_t k = 0; k < r; ++k) {
      const float bk = b[o * r + k];
      const float* ak = a + k * in_f;
      for (int64_t i = 0; i < in_f; ++i) delta[i] += bk * ak[i];
    }
    float* row = w + o * in_f;
    for (int64_t i = 0; i < in_f; ++i) row[i] += scale * delta[i];
  }
}

Result<MergeResult> MergeLora(const MergeOptions& opt) {
  // Everything that can be refused cheaply is checked before any weight is read.
  const fs::path base(opt.base_dir), lora(opt.lora_dir);
  const fs::path out = fs::absolute(fs::path(opt.output_dir)).lexically_normal();
  if (!fs::is_directory(base)) return Status::NotFound("--base " + opt.base_dir + " is not a directory");
  if (!fs::is_directory(lora)) return Status::NotFound("--lora " + opt.lora_dir + " is not a directory");
  if (fs::exists(out) && !opt.overwrite) {
    return Status::AlreadyExists(fmt::format("--output {} already exists; pass --overwrite to replace it",
                                             opt.output_dir));
  }
  const fs::path tok_src =
      fs::exists(base / "tokenizer.json") || opt.tokenizer_dir.empty() ? base : fs::path(opt.tokenizer_dir);
  if ((opt.gguf || !opt.ollama_name.empty()) && !fs::exists(tok_src / "tokenizer.json")) {
    return Status::NotFound(fmt::format("GGUF export needs tokenizer.json; {} has none (pass --tokenizer DIR)",
                                        tok_src.string()));
  }

  RITSU_ASSIGN_OR_RETURN(engine::ModelConfig config, engine::LoadModelConfig(opt.base_dir));
  RITSU_ASSIGN_OR_RETURN(auto ck, engine::Checkpoint::OpenDir(opt.base_dir));
  RITSU_RETURN_IF_ERROR(CheckBaseIsUnquantized(*ck, opt.base_dir));
  auto adapter_or = engine::LoraAdapter::Load(opt.lora_dir, config);
  if (!adapter_or.ok()) {
    return adapter_or.status().Annotate(fmt::format("adapter {} does not fit base {}", opt.lora_dir, opt.base_dir));
  }
  const engine::LoraAdapter adapter = std::move(adapter_or).value();
  const float scale = static_cast<float>(adapter.config.Scale());
  const int threads = opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());

  // Which checkpoint tensor each adapter module lands in; the base's stored shape must agree.
  std::map<std::string, const engine::LoraWeights*> deltas;
  for (const auto& [key, w] : adapter.weights) {
    const std::string name = engine::LinearModulePath(key.first, key.second) + ".weight";
    const engine::TensorView* view = ck->Find(name);
    if (!view) {
      return Status::InvalidArgument(fmt::format("adapter {} targets {}, which base {} does not have", opt.lora_dir,
                                                 name, opt.base_dir));
    }
    if (view->shape != std::vector<int64_t>{w.out_features, w.in_features}) {
      return Status::InvalidArgument(fmt::format("adapter {} does not fit base {}: {} is [{}, {}] in the adapter's "
                                                 "view but the base stores {}", opt.lora_dir, opt.base_dir, name,
                                                 w.out_features, w.in_features, view->Describe()));
    }
    deltas[name] = &w;
  }

  std::vector<engine::TensorSource> sources;
  for (const auto& [name, view_ref] : ck->tensors()) {
    const engine::TensorView* view = &view_ref;
    engine::TensorSource s{name, view->dtype, view->shape, nullptr};
    auto it = deltas.find(name);
    if (it == deltas.end()) {
      s.fill = [view](uint8_t* dst) { std::memcpy(dst, view->data, view->nbytes); };
    } else {
      const engine::LoraWeights* w = it->second;
      s.fill = [view, w, scale, threads](uint8_t* dst) {
        const int64_t rows = w->out_features, cols = w->in_features;
        const size_t esize = engine::DTypeSize(view->dtype);
        const int64_t per = (rows + threads - 1) / threads;
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
          const int64_t r0 = t * per, r1 = std::min(rows, r0 + per);
          if (r0 >= r1) break;
          pool.emplace_back([=] {
            std::vector<float> buf(static_cast<size_t>((r1 - r0) * cols));
            const size_t off = static_cast<size_t>(r0 * cols) * esize;
            engine::ConvertToFloat(view->dtype, view->data + off, buf.data(), buf.size());
            AddLoraDelta(buf.data(), w->a.data(), w->b.data() + r0 * w->r, r1 - r0, cols, w->r, scale);
            engine::ConvertFromFloat(view->dtype, buf.data(), dst + off, buf.size());
          });
        }
        for (auto& th : pool) th.join();
      };
    }
    sources.push_back(std::move(s));
  }

  const fs::path tmp = out.parent_path() / fmt::format(".{}.tmp-{}", out.filename().string(), getpid());
  std::error_code ec;
  fs::create_directories(out.parent_path(), ec);
  fs::remove_all(tmp, ec);
  TempDirGuard guard(tmp);
  RITSU_RETURN_IF_ERROR(engine::WriteCheckpointDir(tmp.string(), sources, opt.max_shard_bytes, {{"format", "pt"}}));
  RITSU_RETURN_IF_ERROR(CopyFile(base / "config.json", tmp / "config.json"));
  RITSU_RETURN_IF_ERROR(WriteGenerationConfig(base, config, tmp / "generation_config.json"));
  for (const char* f : kTokenizerFiles) {
    if (fs::exists(tok_src / f)) RITSU_RETURN_IF_ERROR(CopyFile(tok_src / f, tmp / f));
  }

  MergeResult result;
  result.output_dir = out.string();
  result.tensors_written = sources.size();
  result.modules_merged = deltas.size();
  result.lora_scale = scale;
  std::optional<GgufFileType> gguf_type = opt.gguf;
  if (!gguf_type && !opt.ollama_name.empty()) gguf_type = GgufFileType::kMostlyQ4_K_M;  // Ollama needs a GGUF
  std::string gguf_file;
  if (gguf_type) {
    gguf_file = fmt::format("model-{}.gguf", GgufFileTypeName(*gguf_type));
    GgufExportOptions g;
    g.model_dir = tmp.string();
    g.output_path = (tmp / gguf_file).string();
    g.file_type = *gguf_type;
    g.model_name = opt.ollama_name.empty() ? out.filename().string() : opt.ollama_name;
    g.threads = threads;
    RITSU_ASSIGN_OR_RETURN(GgufExportResult exported, ExportGguf(g));
    exported.path = (out / gguf_file).string();
    result.gguf = std::move(exported);
  }
  if (!opt.ollama_name.empty()) {
    RITSU_RETURN_IF_ERROR(WriteText(tmp / "Modelfile", QwenModelfile(gguf_file)));
    result.modelfile_path = (out / "Modelfile").string();
  }

  // Commit: the complete directory, synced, takes the output's name in one rename.
  RITSU_RETURN_IF_ERROR(ReplaceDirAtomic(tmp.string(), out.string()));
  guard.Commit();
  return result;
}

}  // namespace ritsu::merge
