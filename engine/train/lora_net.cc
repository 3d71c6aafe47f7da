#include "engine/train/lora_net.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>

#include "engine/model/dtype.h"
#include "kernels/nf4/nf4.h"

namespace ritsu::train {

namespace kc = ritsu::kernels::cpu;
using engine::kAllLinearModules;
using engine::LinearModuleShape;
using engine::LinearModulePath;

namespace {

int Idx(LinearModule m) { return static_cast<int>(m); }

// y = x W^T, x [M,K], W [N,K] (fp32: the LoRA products, and the frozen ones in fp32 compute).
void MatmulWt(TrainDevice& d, const float* x, const float* w, float* y, int64_t M, int64_t N, int64_t K, float alpha,
              float beta) {
  d.Gemm(false, true, M, N, K, alpha, x, K, w, K, beta, y, N);
}

// splitmix64's finalizer: derives an independent stream per (layer, module) from a step seed.
uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The seed of the dropout mask on the LoRA input of (layer, module) in a micro-batch: the
// recompute of a block and its backward regenerate the same mask from it (kernels/dropout).
uint64_t DropoutSeed(uint64_t seed, int64_t layer, LinearModule m) {
  return Mix(seed ^ Mix(static_cast<uint64_t>(layer) * 16 + static_cast<uint64_t>(Idx(m)) + 1));
}

// A frozen linear stored as NF4 in the device's memory (bitsandbytes layout, quantized by the
// device's nf4_quantize: the CPU twin and the CUDA kernel write the same bytes).
struct Nf4Weight {
  DVec<uint8_t> packed, absmax_q;
  DVec<float> absmax_scale;
  kernels::Nf4Tensor t;  // pointers into the three buffers above
};

Nf4Weight QuantizeOnDevice(TrainDevice& d, const std::vector<float>& w, int64_t rows, int64_t cols,
                           const float* device_code) {
  Nf4Weight q;
  q.t.rows = rows;
  q.t.cols = cols;
  q.packed = DVec<uint8_t>(&d, static_cast<size_t>(q.t.packed_bytes()));
  q.absmax_q = DVec<uint8_t>(&d, static_cast<size_t>(q.t.blocks()));
  q.absmax_scale = DVec<float>(&d, static_cast<size_t>(q.t.absmax_blocks()));
  q.t.packed = q.packed.data();
  q.t.absmax_q = q.absmax_q.data();
  q.t.absmax_scale = q.absmax_scale.data();
  q.t.absmax_code = device_code;
  {
    DVec<float> dense = d.FromHost(w);
    DVec<float> workspace(&d, static_cast<size_t>(q.t.blocks()));
    d.Nf4Quantize(dense.data(), &q.t, workspace.data());
  }
  return q;
}

// bf16 copies of host weights, rounded as checkpoints are (engine::ConvertFromFloat).
std::vector<bf16> ToBf16Host(const std::vector<float>& v) {
  std::vector<bf16> out(v.size());
  engine::ConvertFromFloat(engine::DType::kBF16, v.data(), out.data(), v.size());
  return out;
}

}  // namespace

int64_t PackedBatch::n_labels() const {
  return std::count_if(labels.begin(), labels.end(), [](int32_t l) { return l >= 0; });
}

struct LoraNet::Layer {
  DVec<float> w[7];      // without --use-4bit: the frozen linears in fp32 (fp32 compute) ...
  DVec<bf16> wb[7];      // ... or bf16 (bf16 compute)
  Nf4Weight nf4[7];      // or NF4 ones (--use-4bit)
  bool is_nf4 = false;
  DVec<float> q_bias, k_bias, v_bias;
  DVec<float> input_norm, post_norm, q_norm, k_norm;
  int lora[7] = {-1, -1, -1, -1, -1, -1, -1};  // index into params_
};

// A PackedBatch's index arrays in device memory.
struct LoraNet::DeviceBatch {
  DVec<int32_t> tokens, positions, cu_seqlens;
  int64_t n_tokens = 0, n_seqs = 0, max_seqlen = 0;
};

// What a block's recomputed forward keeps for its backward. In bf16 compute the inputs of the
// frozen products and of attention also have bf16 copies (h1b, h2b, actb; qb/kb/vb/attnb).
struct LoraNet::BlockActs {
  uint64_t seed = 0;
  bool training = false;
  const float* x_in = nullptr;
  DVec<float> h1, rstd1, q_pre, rstd_q, k_pre, rstd_k, q, k, v, attn, lse, x2, h2, rstd2, g, u, act;
  DVec<bf16> h1b, h2b, actb, qb, kb, vb, attnb;
  // Per linear: the LoRA input (the block's own buffer, or lora_x after dropout) and
  // t = lora_in A^T.
  const float* lora_in[7] = {};
  DVec<float> lora_x[7], lora_t[7];
  void Bind(TrainDevice* d) {
    for (DVec<float>* v : {&h1, &rstd1, &q_pre, &rstd_q, &k_pre, &rstd_k, &q, &k, &v, &attn, &lse, &x2, &h2, &rstd2,
                           &g, &u, &act}) {
      v->bind(d);
    }
    for (DVec<bf16>* v : {&h1b, &h2b, &actb, &qb, &kb, &vb, &attnb}) v->bind(d);
    for (int i = 0; i < 7; ++i) {
      lora_x[i].bind(d);
      lora_t[i].bind(d);
    }
  }
};

LoraNet::~LoraNet() = default;

void LoraNet::SetFromHost(DVec<float>& dst, const std::vector<float>& src) const {
  dst.bind(device_.get());
  dst.resize(src.size());
  if (!src.empty()) device_->Upload(dst.data(), src.data(), src.size() * sizeof(float));
}

Result<std::unique_ptr<LoraNet>> LoraNet::Create(const ModelConfig& c, const WeightSource& weights, bool use_4bit,
                                                 const engine::LoraAdapter& adapter,
                                                 std::unique_ptr<TrainDevice> device) {
  auto net = std::unique_ptr<LoraNet>(new LoraNet());
  net->device_ = device ? std::move(device) : MakeCpuTrainDevice();
  TrainDevice& d = *net->device_;
  const bool bf = d.computes_bf16();
  net->config_ = c;
  net->scale_ = static_cast<float>(adapter.config.Scale());
  net->dropout_ = adapter.config.lora_dropout;
  net->frozen_scratch_.bind(&d);
  net->frozen_scratch_b_.bind(&d);
  net->stage_b_.bind(&d);
  auto load = [&](const std::string& name, std::vector<int64_t> shape, DVec<float>* dst) -> Status {
    RITSU_ASSIGN_OR_RETURN(std::vector<float> host, weights.Read(name, shape));
    *dst = d.FromHost(host);
    return Status::Ok();
  };
  RITSU_ASSIGN_OR_RETURN(net->embed_host_, weights.Read("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}));
  RITSU_RETURN_IF_ERROR(load("model.norm.weight", {c.hidden_size}, &net->final_norm_));
  {
    std::vector<float> head;
    if (c.tie_word_embeddings) {
      head = net->embed_host_;
    } else {
      RITSU_ASSIGN_OR_RETURN(head, weights.Read("lm_head.weight", {c.vocab_size, c.hidden_size}));
    }
    if (bf) {
      net->lm_head_b_ = d.FromHost(ToBf16Host(head));
    } else {
      net->lm_head_ = d.FromHost(head);
    }
  }
  if (use_4bit) {
    const float* code = kernels::nf4_absmax_code();
    net->nf4_code_ = d.FromHost(std::vector<float>(code, code + 256));
  }
  int64_t max_linear = 0;
  // The seven linears of layer l + 1 are read (host: file or random generator) on another
  // thread while the device takes layer l: at 8B-32B reading dominates the start-up.
  using LayerLinears = std::vector<std::vector<float>>;
  auto read_linears = [&weights, &c](int64_t l) -> Result<LayerLinears> {
    LayerLinears out;
    for (LinearModule m : kAllLinearModules) {
      const auto [out_f, in_f] = LinearModuleShape(c, m);
      RITSU_ASSIGN_OR_RETURN(std::vector<float> w, weights.Read(LinearModulePath(l, m) + ".weight", {out_f, in_f}));
      out.push_back(std::move(w));
    }
    return out;
  };
  std::future<Result<LayerLinears>> next = std::async(std::launch::async, read_linears, 0);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    Result<LayerLinears> linears = next.get();
    if (!linears.ok()) return linears.status();
    if (l + 1 < c.num_hidden_layers) next = std::async(std::launch::async, read_linears, l + 1);
    auto L = std::make_unique<Layer>();
    const std::string p = "model.layers." + std::to_string(l) + ".";
    RITSU_RETURN_IF_ERROR(load(p + "input_layernorm.weight", {c.hidden_size}, &L->input_norm));
    RITSU_RETURN_IF_ERROR(load(p + "post_attention_layernorm.weight", {c.hidden_size}, &L->post_norm));
    for (LinearModule m : kAllLinearModules) {
      const auto [out_f, in_f] = LinearModuleShape(c, m);
      std::vector<float> w = std::move((*linears)[static_cast<size_t>(Idx(m))]);
      if (use_4bit) {
        L->nf4[Idx(m)] = QuantizeOnDevice(d, w, out_f, in_f, net->nf4_code_.data());
        L->is_nf4 = true;
        max_linear = std::max(max_linear, out_f * in_f);
      } else if (bf) {
        L->wb[Idx(m)] = d.FromHost(ToBf16Host(w));
      } else {
        L->w[Idx(m)] = d.FromHost(w);
      }
      if (const engine::LoraWeights* lw = adapter.Find(l, m)) {
        LoraParam prm;
        prm.layer = l;
        prm.module = m;
        prm.r = lw->r;
        prm.in_features = lw->in_features;
        prm.out_features = lw->out_features;
        prm.a = d.FromHost(lw->a);
        prm.b = d.FromHost(lw->b);
        const std::vector<float> za(lw->a.size(), 0.0f), zb(lw->b.size(), 0.0f);
        prm.grad_a = d.FromHost(za);
        prm.m_a = d.FromHost(za);
        prm.v_a = d.FromHost(za);
        prm.grad_b = d.FromHost(zb);
        prm.m_b = d.FromHost(zb);
        prm.v_b = d.FromHost(zb);
        L->lora[Idx(m)] = static_cast<int>(net->params_.size());
        net->params_.push_back(std::move(prm));
      }
    }
    if (c.attention_bias) {
      RITSU_RETURN_IF_ERROR(load(p + "self_attn.q_proj.bias", {c.q_dim()}, &L->q_bias));
      RITSU_RETURN_IF_ERROR(load(p + "self_attn.k_proj.bias", {c.kv_dim()}, &L->k_bias));
      RITSU_RETURN_IF_ERROR(load(p + "self_attn.v_proj.bias", {c.kv_dim()}, &L->v_bias));
    }
    if (c.arch == engine::Arch::kQwen3) {
      RITSU_RETURN_IF_ERROR(load(p + "self_attn.q_norm.weight", {c.head_dim}, &L->q_norm));
      RITSU_RETURN_IF_ERROR(load(p + "self_attn.k_norm.weight", {c.head_dim}, &L->k_norm));
    }
    net->layers_.push_back(std::move(L));
  }
  if (max_linear > 0) {
    if (bf) {
      net->frozen_scratch_b_.resize(static_cast<size_t>(max_linear));
    } else {
      net->frozen_scratch_.resize(static_cast<size_t>(max_linear));
    }
  }
  d.Trim();  // the quantizer's dense uploads are not needed again
  return net;
}

const bf16* LoraNet::Stage(const float* x, int64_t n) {
  stage_b_.resize(static_cast<size_t>(n));
  device_->CastToBf16(x, stage_b_.data(), n);
  return stage_b_.data();
}

const bf16* LoraNet::FrozenBf16(int64_t layer, LinearModule m) {
  Layer& L = *layers_[static_cast<size_t>(layer)];
  if (!L.is_nf4) return L.wb[Idx(m)].data();
  device_->Nf4DequantizeBf16(L.nf4[Idx(m)].t, frozen_scratch_b_.data());
  return frozen_scratch_b_.data();
}

const float* LoraNet::FrozenF32(int64_t layer, LinearModule m) {
  Layer& L = *layers_[static_cast<size_t>(layer)];
  if (!L.is_nf4) return L.w[Idx(m)].data();
  device_->Nf4Dequantize(L.nf4[Idx(m)].t, frozen_scratch_.data());
  return frozen_scratch_.data();
}

void LoraNet::FrozenFwd(int64_t layer, LinearModule m, const float* x, const bf16* xb, int64_t T, float* y) {
  TrainDevice& d = *device_;
  const auto [out_f, in_f] = LinearModuleShape(config_, m);
  if (d.computes_bf16()) {
    d.GemmBf16(false, true, T, out_f, in_f, 1.0f, xb, in_f, FrozenBf16(layer, m), in_f, 0.0f, y, out_f);
  } else {
    MatmulWt(d, x, FrozenF32(layer, m), y, T, out_f, in_f, 1.0f, 0.0f);
  }
}

void LoraNet::FrozenBwd(int64_t layer, LinearModule m, const float* dy, int64_t T, float* dx) {
  TrainDevice& d = *device_;
  const auto [out_f, in_f] = LinearModuleShape(config_, m);
  if (d.computes_bf16()) {
    const bf16* dyb = Stage(dy, T * out_f);
    d.GemmBf16(false, false, T, in_f, out_f, 1.0f, dyb, out_f, FrozenBf16(layer, m), in_f, 1.0f, dx, in_f);
  } else {
    d.Gemm(false, false, T, in_f, out_f, 1.0f, dy, out_f, FrozenF32(layer, m), in_f, 1.0f, dx, in_f);
  }
}

void LoraNet::LmHeadFwd(const float* h, int64_t n, float* logits) {
  TrainDevice& d = *device_;
  const int64_t H = config_.hidden_size, V = config_.vocab_size;
  if (d.computes_bf16()) {
    d.GemmBf16(false, true, n, V, H, 1.0f, Stage(h, n * H), H, lm_head_b_.data(), H, 0.0f, logits, V);
  } else {
    MatmulWt(d, h, lm_head_.data(), logits, n, V, H, 1.0f, 0.0f);
  }
}

void LoraNet::LmHeadBwd(const float* dlogits, int64_t n, float* dh) {
  TrainDevice& d = *device_;
  const int64_t H = config_.hidden_size, V = config_.vocab_size;
  if (d.computes_bf16()) {
    d.GemmBf16(false, false, n, H, V, 1.0f, Stage(dlogits, n * V), V, lm_head_b_.data(), H, 0.0f, dh, H);
  } else {
    d.Gemm(false, false, n, H, V, 1.0f, dlogits, V, lm_head_.data(), H, 0.0f, dh, H);
  }
}

void LoraNet::EmbedTokens(const PackedBatch& batch, float* x) {
  const int64_t H = config_.hidden_size;
  std::vector<float> rows(static_cast<size_t>(batch.n_tokens() * H));
  for (int64_t t = 0; t < batch.n_tokens(); ++t) {
    const float* src = embed_host_.data() + static_cast<size_t>(batch.tokens[static_cast<size_t>(t)]) * H;
    std::copy(src, src + H, rows.begin() + t * H);
  }
  device_->Upload(x, rows.data(), rows.size() * sizeof(float));
}

void LoraNet::ZeroGrads() {
  for (LoraParam& p : params_) {
    device_->Zero(p.grad_a.data(), p.grad_a.size() * sizeof(float));
    device_->Zero(p.grad_b.data(), p.grad_b.size() * sizeof(float));
  }
}

engine::LoraAdapter LoraNet::ToAdapter(const engine::LoraConfig& config) const {
  engine::LoraAdapter ad;
  ad.config = config;
  for (const LoraParam& p : params_) {
    engine::LoraWeights w;
    w.r = p.r;
    w.in_features = p.in_features;
    w.out_features = p.out_features;
    w.a = Host(p.a);
    w.b = Host(p.b);
    ad.weights[{p.layer, p.module}] = std::move(w);
  }
  return ad;
}

LoraNet::DeviceBatch LoraNet::Upload(const PackedBatch& batch) {
  DeviceBatch b;
  b.tokens = device_->FromHost(batch.tokens);
  b.positions = device_->FromHost(batch.positions);
  b.cu_seqlens = device_->FromHost(batch.cu_seqlens);
  b.n_tokens = batch.n_tokens();
  b.n_seqs = static_cast<int64_t>(batch.cu_seqlens.size()) - 1;
  b.max_seqlen = batch.max_seqlen;
  return b;
}

void LoraNet::LinearFwd(int64_t layer, LinearModule m, const float* x, const bf16* xb, int64_t T, float* y,
                        BlockActs* acts, uint64_t seed, bool training) {
  TrainDevice& d = *device_;
  const Layer& L = *layers_[static_cast<size_t>(layer)];
  const auto [out_f, in_f] = LinearModuleShape(config_, m);
  FrozenFwd(layer, m, x, xb, T, y);
  const DVec<float>* bias = m == LinearModule::kQ ? &L.q_bias : m == LinearModule::kK ? &L.k_bias
                            : m == LinearModule::kV ? &L.v_bias : nullptr;
  if (bias && !bias->empty()) d.AddBias(y, bias->data(), T, out_f);
  const int pi = L.lora[Idx(m)];
  if (pi < 0) return;
  const LoraParam& p = params_[static_cast<size_t>(pi)];
  DVec<float> local_x(&d, 0), local_t(&d, 0);
  DVec<float>& xd = acts ? acts->lora_x[Idx(m)] : local_x;
  DVec<float>& t = acts ? acts->lora_t[Idx(m)] : local_t;
  const float* lora_in = x;
  if (training && dropout_ > 0) {
    xd.resize(static_cast<size_t>(T * in_f));
    d.DropoutFwd(x, xd.data(), T * in_f, static_cast<float>(dropout_), DropoutSeed(seed, layer, m));
    lora_in = xd.data();
  }
  // Without dropout the LoRA input is x itself: a buffer of the block's acts, alive until its
  // backward.
  if (acts) acts->lora_in[Idx(m)] = lora_in;
  t.resize(static_cast<size_t>(T * p.r));
  MatmulWt(d, lora_in, p.a.data(), t.data(), T, p.r, in_f, 1.0f, 0.0f);
  MatmulWt(d, t.data(), p.b.data(), y, T, out_f, p.r, scale_, 1.0f);
}

void LoraNet::LinearBwd(int64_t layer, LinearModule m, const float* dy, int64_t T, float* dx_accum, BlockActs& acts) {
  TrainDevice& d = *device_;
  const Layer& L = *layers_[static_cast<size_t>(layer)];
  const auto [out_f, in_f] = LinearModuleShape(config_, m);
  FrozenBwd(layer, m, dy, T, dx_accum);  // dx += dy W (frozen base)
  const int pi = L.lora[Idx(m)];
  if (pi < 0) return;
  LoraParam& p = params_[static_cast<size_t>(pi)];
  const float* xd = acts.lora_in[Idx(m)];
  const DVec<float>& t = acts.lora_t[Idx(m)];
  // grad_B += s dy^T t; dt = s dy B; grad_A += dt^T drop(x); dx += drop'(dt A).
  d.Gemm(true, false, out_f, p.r, T, scale_, dy, out_f, t.data(), p.r, 1.0f, p.grad_b.data(), p.r);
  DVec<float> dt(&d, static_cast<size_t>(T * p.r));
  d.Gemm(false, false, T, p.r, out_f, scale_, dy, out_f, p.b.data(), p.r, 0.0f, dt.data(), p.r);
  d.Gemm(true, false, p.r, in_f, T, 1.0f, dt.data(), p.r, xd, in_f, 1.0f, p.grad_a.data(), in_f);
  if (acts.training && dropout_ > 0) {
    DVec<float> dxd(&d, static_cast<size_t>(T * in_f));
    d.Gemm(false, false, T, in_f, p.r, 1.0f, dt.data(), p.r, p.a.data(), in_f, 0.0f, dxd.data(), in_f);
    d.DropoutBwd(dxd.data(), dxd.data(), T * in_f, static_cast<float>(dropout_), DropoutSeed(acts.seed, layer, m));
    d.Add(dx_accum, dxd.data(), dx_accum, T * in_f);
  } else {
    d.Gemm(false, false, T, in_f, p.r, 1.0f, dt.data(), p.r, p.a.data(), in_f, 1.0f, dx_accum, in_f);
  }
}

void LoraNet::BlockFwd(int64_t l, const DeviceBatch& batch, const float* x_in, float* x_out, BlockActs* acts_or_null,
                       uint64_t seed, bool training) {
  TrainDevice& d = *device_;
  const ModelConfig& c = config_;
  const Layer& L = *layers_[static_cast<size_t>(l)];
  const int64_t T = batch.n_tokens, H = c.hidden_size, nh = c.num_attention_heads, nkv = c.num_key_value_heads,
                hd = c.head_dim, I = c.intermediate_size;
  const float eps = static_cast<float>(c.rms_norm_eps), theta = static_cast<float>(c.rope_theta);
  const bool bf = d.computes_bf16();
  BlockActs local;
  BlockActs& a = acts_or_null ? *acts_or_null : local;
  a.Bind(&d);
  BlockActs* keep = acts_or_null;
  a.seed = seed;
  a.training = training;
  a.x_in = x_in;
  auto sz = [](int64_t n) { return static_cast<size_t>(n); };
  // The bf16 copy of an fp32 activation that feeds frozen products (null in fp32 compute).
  auto to_bf16 = [&](const DVec<float>& x, DVec<bf16>& xb) -> const bf16* {
    if (!bf) return nullptr;
    xb.resize(x.size());
    d.CastToBf16(x.data(), xb.data(), static_cast<int64_t>(x.size()));
    return xb.data();
  };
  a.h1.resize(sz(T * H));
  a.rstd1.resize(sz(T));
  d.RmsNormFwd(x_in, L.input_norm.data(), a.h1.data(), a.rstd1.data(), T, H, eps);
  const bf16* h1b = to_bf16(a.h1, a.h1b);
  a.q_pre.resize(sz(T * nh * hd));
  a.k_pre.resize(sz(T * nkv * hd));
  a.v.resize(sz(T * nkv * hd));
  LinearFwd(l, LinearModule::kQ, a.h1.data(), h1b, T, a.q_pre.data(), keep, seed, training);
  LinearFwd(l, LinearModule::kK, a.h1.data(), h1b, T, a.k_pre.data(), keep, seed, training);
  LinearFwd(l, LinearModule::kV, a.h1.data(), h1b, T, a.v.data(), keep, seed, training);
  a.q.resize(a.q_pre.size());
  a.k.resize(a.k_pre.size());
  if (c.arch == engine::Arch::kQwen3) {
    a.rstd_q.resize(sz(T * nh));
    a.rstd_k.resize(sz(T * nkv));
    d.RmsNormFwd(a.q_pre.data(), L.q_norm.data(), a.q.data(), a.rstd_q.data(), T * nh, hd, eps);
    d.RmsNormFwd(a.k_pre.data(), L.k_norm.data(), a.k.data(), a.rstd_k.data(), T * nkv, hd, eps);
  } else {
    d.Copy(a.q.data(), a.q_pre.data(), a.q.size() * sizeof(float));
    d.Copy(a.k.data(), a.k_pre.data(), a.k.size() * sizeof(float));
  }
  d.RopeFwd(a.q.data(), batch.positions.data(), T, nh, hd, theta);
  d.RopeFwd(a.k.data(), batch.positions.data(), T, nkv, hd, theta);
  a.attn.resize(sz(T * nh * hd));
  a.lse.resize(sz(nh * T));
  const float attn_scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const bf16* attnb = nullptr;
  if (bf) {
    to_bf16(a.q, a.qb);
    to_bf16(a.k, a.kb);
    to_bf16(a.v, a.vb);
    a.attnb.resize(a.attn.size());
    d.FlashFwdBf16(a.qb.data(), a.kb.data(), a.vb.data(), a.attnb.data(), a.lse.data(), batch.cu_seqlens.data(),
                   batch.n_seqs, batch.max_seqlen, nh, nkv, hd, attn_scale);
    d.CastToF32(a.attnb.data(), a.attn.data(), static_cast<int64_t>(a.attn.size()));  // o_proj's LoRA input
    attnb = a.attnb.data();
  } else {
    d.FlashFwd(a.q.data(), a.k.data(), a.v.data(), a.attn.data(), a.lse.data(), batch.cu_seqlens.data(), batch.n_seqs,
               batch.max_seqlen, nh, nkv, hd, attn_scale);
  }
  a.x2.resize(sz(T * H));
  LinearFwd(l, LinearModule::kO, a.attn.data(), attnb, T, a.x2.data(), keep, seed, training);
  d.Add(a.x2.data(), x_in, a.x2.data(), T * H);
  a.h2.resize(sz(T * H));
  a.rstd2.resize(sz(T));
  d.RmsNormFwd(a.x2.data(), L.post_norm.data(), a.h2.data(), a.rstd2.data(), T, H, eps);
  const bf16* h2b = to_bf16(a.h2, a.h2b);
  a.g.resize(sz(T * I));
  a.u.resize(sz(T * I));
  LinearFwd(l, LinearModule::kGate, a.h2.data(), h2b, T, a.g.data(), keep, seed, training);
  LinearFwd(l, LinearModule::kUp, a.h2.data(), h2b, T, a.u.data(), keep, seed, training);
  a.act.resize(sz(T * I));
  d.SwigluFwd(a.g.data(), a.u.data(), a.act.data(), T, I);
  const bf16* actb = to_bf16(a.act, a.actb);
  LinearFwd(l, LinearModule::kDown, a.act.data(), actb, T, x_out, keep, seed, training);
  d.Add(x_out, a.x2.data(), x_out, T * H);
}

void LoraNet::BlockBwd(int64_t l, const DeviceBatch& batch, BlockActs& a, float* dx) {
  // On entry dx = dLoss/dx_out; on exit dLoss/dx_in.
  TrainDevice& d = *device_;
  const ModelConfig& c = config_;
  const Layer& L = *layers_[static_cast<size_t>(l)];
  const int64_t T = batch.n_tokens, H = c.hidden_size, nh = c.num_attention_heads, nkv = c.num_key_value_heads,
                hd = c.head_dim, I = c.intermediate_size;
  const float theta = static_cast<float>(c.rope_theta);
  auto sz = [](int64_t n) { return static_cast<size_t>(n); };
  auto zeros = [&](int64_t n) {
    DVec<float> v(&d, sz(n));
    d.Zero(v.data(), sz(n) * sizeof(float));
    return v;
  };
  // MLP: x_out = x2 + down(swiglu(gate(h2), up(h2))).
  DVec<float> dact = zeros(T * I);
  LinearBwd(l, LinearModule::kDown, dx, T, dact.data(), a);
  DVec<float> dg(&d, sz(T * I)), du(&d, sz(T * I));
  d.SwigluBwd(a.g.data(), a.u.data(), dact.data(), dg.data(), du.data(), T, I);
  DVec<float> dh = zeros(T * H);
  LinearBwd(l, LinearModule::kGate, dg.data(), T, dh.data(), a);
  LinearBwd(l, LinearModule::kUp, du.data(), T, dh.data(), a);
  DVec<float> dtmp(&d, sz(T * H));
  d.RmsNormBwd(a.x2.data(), L.post_norm.data(), a.rstd2.data(), dh.data(), dtmp.data(), T, H);
  d.Add(dx, dtmp.data(), dx, T * H);  // now dLoss/dx2
  // Attention: x2 = x_in + o(attn(rope(norm(q(h1))), rope(norm(k(h1))), v(h1))).
  DVec<float> dattn = zeros(T * nh * hd);
  LinearBwd(l, LinearModule::kO, dx, T, dattn.data(), a);
  DVec<float> dq(&d, sz(T * nh * hd)), dk(&d, sz(T * nkv * hd)), dv(&d, sz(T * nkv * hd));
  const float attn_scale = 1.0f / std::sqrt(static_cast<float>(hd));
  if (d.computes_bf16()) {
    DVec<bf16> dattnb(&d, dattn.size()), dqb(&d, dq.size());
    d.CastToBf16(dattn.data(), dattnb.data(), static_cast<int64_t>(dattn.size()));
    d.FlashBwdBf16(a.qb.data(), a.kb.data(), a.vb.data(), a.attnb.data(), a.lse.data(), dattnb.data(), dqb.data(),
                   dk.data(), dv.data(), batch.cu_seqlens.data(), batch.n_seqs, batch.max_seqlen, nh, nkv, hd,
                   attn_scale);
    d.CastToF32(dqb.data(), dq.data(), static_cast<int64_t>(dq.size()));
  } else {
    d.FlashBwd(a.q.data(), a.k.data(), a.v.data(), a.attn.data(), a.lse.data(), dattn.data(), dq.data(), dk.data(),
               dv.data(), batch.cu_seqlens.data(), batch.n_seqs, batch.max_seqlen, nh, nkv, hd, attn_scale);
  }
  d.RopeBwd(dq.data(), batch.positions.data(), T, nh, hd, theta);
  d.RopeBwd(dk.data(), batch.positions.data(), T, nkv, hd, theta);
  if (c.arch == engine::Arch::kQwen3) {
    d.RmsNormBwd(a.q_pre.data(), L.q_norm.data(), a.rstd_q.data(), dq.data(), dq.data(), T * nh, hd);
    d.RmsNormBwd(a.k_pre.data(), L.k_norm.data(), a.rstd_k.data(), dk.data(), dk.data(), T * nkv, hd);
  }
  d.Zero(dh.data(), dh.size() * sizeof(float));
  LinearBwd(l, LinearModule::kQ, dq.data(), T, dh.data(), a);
  LinearBwd(l, LinearModule::kK, dk.data(), T, dh.data(), a);
  LinearBwd(l, LinearModule::kV, dv.data(), T, dh.data(), a);
  d.RmsNormBwd(a.x_in, L.input_norm.data(), a.rstd1.data(), dh.data(), dtmp.data(), T, H);
  d.Add(dx, dtmp.data(), dx, T * H);
}

LossResult LoraNet::LossAndGrad(const PackedBatch& host_batch, float grad_scale, uint64_t dropout_seed, bool training) {
  TrainDevice& d = *device_;
  const ModelConfig& c = config_;
  const DeviceBatch batch = Upload(host_batch);
  const int64_t T = batch.n_tokens, H = c.hidden_size, V = c.vocab_size, NL = c.num_hidden_layers;
  auto sz = [](int64_t n) { return static_cast<size_t>(n); };
  // Block inputs: the only activations kept between forward and backward.
  std::vector<DVec<float>> xs;
  for (int64_t l = 0; l <= NL; ++l) xs.emplace_back(&d, sz(T * H));
  EmbedTokens(host_batch, xs[0].data());
  for (int64_t l = 0; l < NL; ++l) {
    BlockFwd(l, batch, xs[sz(l)].data(), xs[sz(l + 1)].data(), nullptr, dropout_seed, training);
  }
  // Fused chunked cross-entropy over the labelled rows only: gather CR rows, norm, lm_head,
  // loss + dlogits in place, back through the lm_head and the norm, scatter into dx.
  std::vector<int32_t> rows, row_labels;
  for (int64_t t = 0; t < T; ++t) {
    if (host_batch.labels[sz(t)] >= 0) {
      rows.push_back(static_cast<int32_t>(t));
      row_labels.push_back(host_batch.labels[sz(t)]);
    }
  }
  LossResult res;
  res.n_labels = static_cast<int64_t>(rows.size());
  DVec<float> dx(&d, sz(T * H));
  d.Zero(dx.data(), dx.size() * sizeof(float));
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int64_t CR = d.is_cuda() ? kLossChunkRowsCuda : kLossChunkRows;
  DVec<float> xin(&d, sz(CR * H)), hf(&d, sz(CR * H)), rstd(&d, sz(CR)), logits(&d, sz(CR * V)), dh(&d, sz(CR * H)),
      dxin(&d, sz(CR * H)), loss(&d, sz(CR));
  const DVec<int32_t> rows_d = d.FromHost(rows), labels_d = d.FromHost(row_labels);
  std::vector<float> host_loss(sz(CR));
  const float* xl = xs[sz(NL)].data();
  for (size_t begin = 0; begin < rows.size(); begin += sz(CR)) {
    const int64_t n = std::min<int64_t>(CR, static_cast<int64_t>(rows.size() - begin));
    d.GatherRows(xl, rows_d.data() + begin, xin.data(), n, H, T);
    d.RmsNormFwd(xin.data(), final_norm_.data(), hf.data(), rstd.data(), n, H, eps);
    LmHeadFwd(hf.data(), n, logits.data());
    d.CrossEntropy(logits.data(), labels_d.data() + begin, loss.data(), n, V, grad_scale);
    d.Download(host_loss.data(), loss.data(), sz(n) * sizeof(float));
    for (int64_t i = 0; i < n; ++i) res.loss_sum += host_loss[sz(i)];
    LmHeadBwd(logits.data(), n, dh.data());
    d.RmsNormBwd(xin.data(), final_norm_.data(), rstd.data(), dh.data(), dxin.data(), n, H);
    // Each labelled row appears once and dx is zero there: the scatter-add is a copy.
    d.ScatterAddRows(dxin.data(), rows_d.data() + begin, dx.data(), n, H, T);
  }
  // Backward, last block first, each recomputed from its saved input.
  for (int64_t l = NL - 1; l >= 0; --l) {
    BlockActs acts;
    DVec<float> scratch(&d, sz(T * H));
    BlockFwd(l, batch, xs[sz(l)].data(), scratch.data(), &acts, dropout_seed, training);
    xs[sz(l + 1)].clear();
    BlockBwd(l, batch, acts, dx.data());
  }
  return res;
}

std::vector<float> LoraNet::Logits(const PackedBatch& host_batch, const std::vector<int64_t>& rows) {
  TrainDevice& d = *device_;
  const ModelConfig& c = config_;
  const DeviceBatch batch = Upload(host_batch);
  const int64_t T = batch.n_tokens, H = c.hidden_size, V = c.vocab_size;
  auto sz = [](int64_t n) { return static_cast<size_t>(n); };
  DVec<float> x(&d, sz(T * H)), y(&d, sz(T * H));
  EmbedTokens(host_batch, x.data());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    BlockFwd(l, batch, x.data(), y.data(), nullptr, 0, false);
    std::swap(x, y);
  }
  const int64_t n = static_cast<int64_t>(rows.size());
  std::vector<int32_t> rows32(rows.begin(), rows.end());
  const DVec<int32_t> rows_d = d.FromHost(rows32);
  DVec<float> sel(&d, sz(n * H)), hf(&d, sz(n * H)), out(&d, sz(n * V)), rstd(&d, sz(n));
  d.GatherRows(x.data(), rows_d.data(), sel.data(), n, H, T);
  d.RmsNormFwd(sel.data(), final_norm_.data(), hf.data(), rstd.data(), n, H, static_cast<float>(c.rms_norm_eps));
  LmHeadFwd(hf.data(), n, out.data());
  return d.ToHost(out);
}

}  // namespace ritsu::train
