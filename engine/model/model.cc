#include "engine/model/model.h"

#include <cmath>

namespace ritsu::engine {

struct Model::Layer {
  std::unique_ptr<Weight> input_norm, post_norm, q_norm, k_norm;
  std::unique_ptr<Weight> linear[7];  // indexed by LinearModule
  std::unique_ptr<Weight> q_bias, k_bias, v_bias;
  std::unique_ptr<Weight> lora_a[7], lora_b[7];  // null where the adapter does not target
};

Model::~Model() = default;

static int Index(LinearModule m) { return static_cast<int>(m); }

Result<std::unique_ptr<Model>> Model::Load(const std::string& dir, Backend& backend, const ModelLoadOptions& options) {
  RITSU_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(dir));
  RITSU_ASSIGN_OR_RETURN(auto ck, Checkpoint::OpenDir(dir));
  std::unique_ptr<LoraAdapter> adapter;
  if (!options.lora_dir.empty()) {
    RITSU_ASSIGN_OR_RETURN(LoraAdapter a, LoraAdapter::Load(options.lora_dir, config));
    adapter = std::make_unique<LoraAdapter>(std::move(a));
  }
  return FromCheckpoint(config, *ck, backend, options, adapter.get());
}

Result<std::unique_ptr<Model>> Model::FromCheckpoint(const ModelConfig& config, const Checkpoint& ck, Backend& backend,
                                                     const ModelLoadOptions& options, const LoraAdapter* adapter) {
  auto m = std::unique_ptr<Model>(new Model());
  m->config_ = config;
  m->backend_ = &backend;
  const ModelConfig& c = config;
  auto load = [&](const std::string& name, std::vector<int64_t> shape,
                  WeightFormat fmt = WeightFormat::kDense) -> Result<std::unique_ptr<Weight>> {
    RITSU_ASSIGN_OR_RETURN(const TensorView* v, ck.Get(name, shape));
    return backend.LoadWeight(*v, fmt);
  };
  RITSU_ASSIGN_OR_RETURN(m->embed_, load("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}));
  RITSU_ASSIGN_OR_RETURN(m->final_norm_, load("model.norm.weight", {c.hidden_size}));
  if (!c.tie_word_embeddings) {
    RITSU_ASSIGN_OR_RETURN(m->lm_head_, load("lm_head.weight", {c.vocab_size, c.hidden_size}));
  }
  const WeightFormat linear_fmt = options.load_in_4bit ? WeightFormat::kNf4 : WeightFormat::kDense;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    auto layer = std::make_unique<Layer>();
    const std::string p = "model.layers." + std::to_string(l) + ".";
    RITSU_ASSIGN_OR_RETURN(layer->input_norm, load(p + "input_layernorm.weight", {c.hidden_size}));
    RITSU_ASSIGN_OR_RETURN(layer->post_norm, load(p + "post_attention_layernorm.weight", {c.hidden_size}));
    for (LinearModule lm : kAllLinearModules) {
      const auto [out_f, in_f] = LinearModuleShape(c, lm);
      RITSU_ASSIGN_OR_RETURN(layer->linear[Index(lm)], load(LinearModulePath(l, lm) + ".weight", {out_f, in_f}, linear_fmt));
      if (adapter) {
        if (const LoraWeights* w = adapter->Find(l, lm)) {
          layer->lora_a[Index(lm)] = backend.LoadWeightF32(w->a.data(), w->r, w->in_features);
          layer->lora_b[Index(lm)] = backend.LoadWeightF32(w->b.data(), w->out_features, w->r);
        }
      }
    }
    if (c.attention_bias) {
      RITSU_ASSIGN_OR_RETURN(layer->q_bias, load(p + "self_attn.q_proj.bias", {c.q_dim()}));
      RITSU_ASSIGN_OR_RETURN(layer->k_bias, load(p + "self_attn.k_proj.bias", {c.kv_dim()}));
      RITSU_ASSIGN_OR_RETURN(layer->v_bias, load(p + "self_attn.v_proj.bias", {c.kv_dim()}));
    }
    if (c.arch == Arch::kQwen3) {
      RITSU_ASSIGN_OR_RETURN(layer->q_norm, load(p + "self_attn.q_norm.weight", {c.head_dim}));
      RITSU_ASSIGN_OR_RETURN(layer->k_norm, load(p + "self_attn.k_norm.weight", {c.head_dim}));
    }
    m->layers_.push_back(std::move(layer));
  }
  if (adapter) {
    m->has_lora_ = true;
    m->lora_scale_ = static_cast<float>(adapter->config.Scale());
  }
  return m;
}

KvCache Model::NewKvCache(int64_t n_slots, int64_t max_seq) {
  return backend_->NewKvCache(config_.num_hidden_layers, n_slots, max_seq, config_.num_key_value_heads, config_.head_dim);
}

void Model::Linear(const Tensor& x, int64_t layer, LinearModule m, const Tensor& y) {
  const Layer& L = *layers_[static_cast<size_t>(layer)];
  const Weight* bias = m == LinearModule::kQ ? L.q_bias.get() : m == LinearModule::kK ? L.k_bias.get()
                       : m == LinearModule::kV ? L.v_bias.get() : nullptr;
  backend_->Linear(x, *L.linear[Index(m)], bias, y);
  if (L.lora_a[Index(m)]) backend_->LoraAdd(x, *L.lora_a[Index(m)], *L.lora_b[Index(m)], lora_scale_, y);
}

Result<Tensor> Model::Forward(const std::vector<int32_t>& tokens, StepLayout& step, KvCache& cache,
                              const std::vector<int64_t>& logit_rows) {
  const ModelConfig& c = config_;
  Backend& b = *backend_;
  const int64_t T = step.n_tokens;
  if (T == 0 || static_cast<int64_t>(tokens.size()) != T) {
    return Status::InvalidArgument("Forward: " + std::to_string(tokens.size()) + " tokens for a step of " + std::to_string(T));
  }
  for (const Segment& s : step.segments) {
    if (s.slot < 0 || s.slot >= cache.n_slots || s.start_pos < 0 || s.start_pos + s.n_tokens > cache.max_seq) {
      return Status::InvalidArgument("Forward: segment slot " + std::to_string(s.slot) + " positions [" +
                                     std::to_string(s.start_pos) + ", " + std::to_string(s.start_pos + s.n_tokens) +
                                     ") do not fit the KV cache (" + std::to_string(cache.n_slots) + " slots x " +
                                     std::to_string(cache.max_seq) + " tokens)");
    }
  }
  for (int32_t t : tokens) {
    if (t < 0 || t >= c.vocab_size) {
      return Status::InvalidArgument("token id " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
    }
  }
  for (int64_t r : logit_rows) {
    if (r < 0 || r >= T) return Status::InvalidArgument("Forward: logit row " + std::to_string(r) + " outside the step");
  }
  const DType dt = b.activation_dtype();
  Tensor ids = b.Alloc(T, 1, DType::kI32);
  b.Upload(tokens.data(), DType::kI32, ids);
  Tensor x = b.Alloc(T, c.hidden_size, dt);
  b.Embedding(ids, *embed_, x);
  Tensor h = b.Alloc(T, c.hidden_size, dt);
  Tensor q = b.Alloc(T, c.q_dim(), dt), k = b.Alloc(T, c.kv_dim(), dt), v = b.Alloc(T, c.kv_dim(), dt);
  Tensor attn = b.Alloc(T, c.q_dim(), dt);
  Tensor gate = b.Alloc(T, c.intermediate_size, dt), up = b.Alloc(T, c.intermediate_size, dt);
  const float eps = static_cast<float>(c.rms_norm_eps);
  const float theta = static_cast<float>(c.rope_theta);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const Layer& L = *layers_[static_cast<size_t>(l)];
    b.RmsNorm(x, *L.input_norm, eps, h);
    Linear(h, l, LinearModule::kQ, q);
    Linear(h, l, LinearModule::kK, k);
    Linear(h, l, LinearModule::kV, v);
    if (c.arch == Arch::kQwen3) {
      // Per-head RMSNorm before RoPE, as Qwen3Attention does.
      Tensor qh = q.Reshape(T * c.num_attention_heads, c.head_dim);
      Tensor kh = k.Reshape(T * c.num_key_value_heads, c.head_dim);
      b.RmsNorm(qh, *L.q_norm, eps, qh);
      b.RmsNorm(kh, *L.k_norm, eps, kh);
    }
    b.Rope(q, step, c.num_attention_heads, c.head_dim, theta);
    b.Rope(k, step, c.num_key_value_heads, c.head_dim, theta);
    b.Attention(q, k, v, cache, l, step, c.num_attention_heads, attn);
    Linear(attn, l, LinearModule::kO, h);
    b.Add(x, h, x);
    b.RmsNorm(x, *L.post_norm, eps, h);
    Linear(h, l, LinearModule::kGate, gate);
    Linear(h, l, LinearModule::kUp, up);
    b.SwiGlu(gate, up, gate);
    Linear(gate, l, LinearModule::kDown, h);
    b.Add(x, h, x);
  }
  const int64_t R = static_cast<int64_t>(logit_rows.size());
  if (R == 0) return Tensor{};  // a prefill chunk whose logits nobody needs
  Tensor last = b.Alloc(R, c.hidden_size, dt);
  b.GatherRows(x, logit_rows, last);
  b.RmsNorm(last, *final_norm_, eps, last);
  Tensor logits = b.Alloc(R, c.vocab_size, dt);
  b.Linear(last, lm_head_ ? *lm_head_ : *embed_, nullptr, logits);
  return logits;
}

}  // namespace ritsu::engine
