#include "engine/train/lora_net.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/nf4/nf4.h"

namespace ritsu::train {

namespace kc = ritsu::kernels::cpu;
using engine::kAllLinearModules;
using engine::LinearModuleShape;
using engine::LinearModulePath;

namespace {

int Idx(LinearModule m) { return static_cast<int>(m); }

// y = x W^T, x [M,K], W [N,K].
void MatmulWt(TrainDevice& d, const float* x, const float* w, float* y, int64_t M, int64_t N, int64_t K, float alpha,
              float beta) {
  d.Gemm(false, true, M, N, K, alpha, x, K, w, K, beta, y, N);
}

// splitmix64: a counter-based generator, so a dropout mask is a pure function of its indices.
uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The inverted-dropout factor of element i of the LoRA input of (layer, module):
// 0 with probability p, else 1/(1-p), as torch.nn.Dropout.
void DropoutFactors(uint64_t seed, int64_t layer, LinearModule m, double p, int64_t n, std::vector<float>& out) {
  out.resize(static_cast<size_t>(n));
  const uint64_t base = Mix(seed ^ Mix(static_cast<uint64_t>(layer) * 16 + static_cast<uint64_t>(Idx(m)) + 1));
  const float keep = static_cast<float>(1.0 / (1.0 - p));
  for (int64_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(Mix(base + static_cast<uint64_t>(i)) >> 11) * 0x1.0p-53;
    out[static_cast<size_t>(i)] = u < p ? 0.0f : keep;
  }
}

Result<std::vector<float>> ReadChecked(const engine::Checkpoint& ck, const std::string& name, std::vector<int64_t> shape) {
  return ck.ReadFloat(name, shape);
}

// A frozen linear stored as NF4 in the device's memory (bitsandbytes layout, quantized on the
// host by kernels::cpu so CPU and GPU runs compute with the same values).
struct Nf4Weight {
  DVec<uint8_t> packed, absmax_q;
  DVec<float> absmax_scale;
  kernels::Nf4Tensor t;  // pointers into the three buffers above
};

Nf4Weight QuantizeToDevice(TrainDevice& d, const std::vector<float>& w, int64_t rows, int64_t cols,
                           const float* device_code) {
  kernels::Nf4Tensor t;
  t.rows = rows;
  t.cols = cols;
  std::vector<uint8_t> packed(static_cast<size_t>(t.packed_bytes()));
  std::vector<uint8_t> absmax_q(static_cast<size_t>(t.blocks()));
  std::vector<float> absmax_scale(static_cast<size_t>(t.absmax_blocks()));
  std::vector<float> workspace(static_cast<size_t>(t.blocks()));
  t.packed = packed.data();
  t.absmax_q = absmax_q.data();
  t.absmax_scale = absmax_scale.data();
  t.absmax_code = kernels::nf4_absmax_code();
  kc::nf4_quantize<float>(w.data(), &t, workspace.data(), nullptr);
  Nf4Weight q;
  q.packed = d.FromHost(packed);
  q.absmax_q = d.FromHost(absmax_q);
  q.absmax_scale = d.FromHost(absmax_scale);
  q.t = t;
  q.t.packed = q.packed.data();
  q.t.absmax_q = q.absmax_q.data();
  q.t.absmax_scale = q.absmax_scale.data();
  q.t.absmax_code = device_code;
  return q;
}

}  // namespace

int64_t PackedBatch::n_labels() const {
  return std::count_if(labels.begin(), labels.end(), [](int32_t l) { return l >= 0; });
}

struct LoraNet::Layer {
  DVec<float> w[7];      // without --use-4bit: fp32 copies of the frozen linears
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

// What a block's recomputed forward keeps for its backward.
struct LoraNet::BlockActs {
  uint64_t seed = 0;
  bool training = false;
  const float* x_in = nullptr;
  DVec<float> h1, rstd1, q_pre, rstd_q, k_pre, rstd_k, q, k, v, attn, lse, x2, h2, rstd2, g, u, act;
  // Per linear: the LoRA input after dropout and t = drop(x) A^T.
  DVec<float> lora_x[7], lora_t[7];
  void Bind(TrainDevice* d) {
    for (DVec<float>* v : {&h1, &rstd1, &q_pre, &rstd_q, &k_pre, &rstd_k, &q, &k, &v, &attn, &lse, &x2, &h2, &rstd2,
                           &g, &u, &act}) {
      v->bind(d);
    }
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

Result<std::unique_ptr<LoraNet>> LoraNet::Create(const ModelConfig& c, const engine::Checkpoint& ck, bool use_4bit,
                                                 const engine::LoraAdapter& adapter,
                                                 std::unique_ptr<TrainDevice> device) {
  auto net = std::unique_ptr<LoraNet>(new LoraNet());
  net->device_ = device ? std::move(device) : MakeCpuTrainDevice();
  TrainDevice& d = *net->device_;
  net->config_ = c;
  net->scale_ = static_cast<float>(adapter.config.Scale());
  net->dropout_ = adapter.config.lora_dropout;
  auto load = [&](const std::string& name, std::vector<int64_t> shape, DVec<float>* dst) -> Status {
    RITSU_ASSIGN_OR_RETURN(std::vector<float> host, ReadChecked(ck, name, shape));
    *dst = d.FromHost(host);
    return Status::Ok();
  };
  RITSU_RETURN_IF_ERROR(load("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, &net->embed_));
  RITSU_RETURN_IF_ERROR(load("model.norm.weight", {c.hidden_size}, &net->final_norm_));
  if (!c.tie_word_embeddings) {
    RITSU_RETURN_IF_ERROR(load("lm_head.weight", {c.vocab_size, c.hidden_size}, &net->lm_head_));
  }
  if (use_4bit) {
    const float* code = kernels::nf4_absmax_code();
    net->nf4_code_ = d.FromHost(std::vector<float>(code, code + 256));
  }
  int64_t max_linear = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    auto L = std::make_unique<Layer>();
    const std::string p = "model.layers." + std::to_string(l) + ".";
    RITSU_RETURN_IF_ERROR(load(p + "input_layernorm.weight", {c.hidden_size}, &L->input_norm));
    RITSU_RETURN_IF_ERROR(load(p + "post_attention_layernorm.weight", {c.hidden_size}, &L->post_norm));
    for (LinearModule m : kAllLinearModules) {
      const auto [out_f, in_f] = LinearModuleShape(c, m);
      RITSU_ASSIGN_OR_RETURN(std::vector<float> w, ReadChecked(ck, LinearModulePath(l, m) + ".weight", {out_f, in_f}));
      if (use_4bit) {
        L->nf4[Idx(m)] = QuantizeToDevice(d, w, out_f, in_f, net->nf4_code_.data());
        L->is_nf4 = true;
        max_linear = std::max(max_linear, out_f * in_f);
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
  if (max_linear > 0) net->frozen_scratch_ = DVec<float>(&d, static_cast<size_t>(max_linear));
  return net;
}

const float* LoraNet::FrozenWeight(int64_t layer, LinearModule m) {
  Layer& L = *layers_[static_cast<size_t>(layer)];
  if (!L.is_nf4) return L.w[Idx(m)].data();
  device_->Nf4Dequantize(L.nf4[Idx(m)].t, frozen_scratch_.data());
  return frozen_scratch_.data();
}

const float* LoraNet::LmHead() const { return config_.tie_word_embeddings ? embed_.data() : lm_head_.data(); }

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

void LoraNet::LinearFwd(int64_t layer, LinearModule m, const float* x, int64_t T, float* y, BlockActs* acts,
                        uint64_t seed, bool training) {
  TrainDevice& d = *device_;
  const Layer& L = *layers_[static_cast<size_t>(layer)];
  const auto [out_f, in_f] = LinearModuleShape(config_, m);
  MatmulWt(d, x, FrozenWeight(layer, m), y, T, out_f, in_f, 1.0f, 0.0f);
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
  const size_t n = static_cast<size_t>(T * in_f);
  if (training && dropout_ > 0) {
    std::vector<float> f;
    DropoutFactors(seed, layer, m, dropout_, T * in_f, f);
    xd.resize(n);
    d.Copy(xd.data(), x, n * sizeof(float));
    d.MulHost(xd.data(), f.data(), T * in_f);
    lora_in = xd.data();
  } else if (acts) {
    xd.resize(n);
    d.Copy(xd.data(), x, n * sizeof(float));
  }
  t.resize(static_cast<size_t>(T * p.r));
  MatmulWt(d, lora_in, p.a.data(), t.data(), T, p.r, in_f, 1.0f, 0.0f);
  MatmulWt(d, t.data(), p.b.data(), y, T, out_f, p.r, scale_, 1.0f);
}

void LoraNet::LinearBwd(int64_t layer, LinearModule m, const float* dy, int64_t T, float* dx_accum, BlockActs& acts) {
  TrainDevice& d = *device_;
  const Layer& L = *layers_[static_cast<size_t>(layer)];
  const auto [out_f, in_f] = LinearModuleShape(config_, m);
  // dx += dy W (frozen base).
  d.Gemm(false, false, T, in_f, out_f, 1.0f, dy, out_f, FrozenWeight(layer, m), in_f, 1.0f, dx_accum, in_f);
  const int pi = L.lora[Idx(m)];
  if (pi < 0) return;
  LoraParam& p = params_[static_cast<size_t>(pi)];
  const DVec<float>& xd = acts.lora_x[Idx(m)];
  const DVec<float>& t = acts.lora_t[Idx(m)];
  // grad_B += s dy^T t; dt = s dy B; grad_A += dt^T drop(x); dx += drop'(dt A).
  d.Gemm(true, false, out_f, p.r, T, scale_, dy, out_f, t.data(), p.r, 1.0f, p.grad_b.data(), p.r);
  DVec<float> dt(&d, static_cast<size_t>(T * p.r));
  d.Gemm(false, false, T, p.r, out_f, scale_, dy, out_f, p.b.data(), p.r, 0.0f, dt.data(), p.r);
  d.Gemm(true, false, p.r, in_f, T, 1.0f, dt.data(), p.r, xd.data(), in_f, 1.0f, p.grad_a.data(), in_f);
  if (acts.training && dropout_ > 0) {
    DVec<float> dxd(&d, static_cast<size_t>(T * in_f));
    d.Gemm(false, false, T, in_f, p.r, 1.0f, dt.data(), p.r, p.a.data(), in_f, 0.0f, dxd.data(), in_f);
    std::vector<float> f;
    DropoutFactors(acts.seed, layer, m, dropout_, T * in_f, f);
    d.MulHost(dxd.data(), f.data(), T * in_f);
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
  BlockActs local;
  BlockActs& a = acts_or_null ? *acts_or_null : local;
  a.Bind(&d);
  BlockActs* keep = acts_or_null;
  a.seed = seed;
  a.training = training;
  a.x_in = x_in;
  auto sz = [](int64_t n) { return static_cast<size_t>(n); };
  a.h1.resize(sz(T * H));
  a.rstd1.resize(sz(T));
  d.RmsNormFwd(x_in, L.input_norm.data(), a.h1.data(), a.rstd1.data(), T, H, eps);
  a.q_pre.resize(sz(T * nh * hd));
  a.k_pre.resize(sz(T * nkv * hd));
  a.v.resize(sz(T * nkv * hd));
  LinearFwd(l, LinearModule::kQ, a.h1.data(), T, a.q_pre.data(), keep, seed, training);
  LinearFwd(l, LinearModule::kK, a.h1.data(), T, a.k_pre.data(), keep, seed, training);
  LinearFwd(l, LinearModule::kV, a.h1.data(), T, a.v.data(), keep, seed, training);
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
  d.FlashFwd(a.q.data(), a.k.data(), a.v.data(), a.attn.data(), a.lse.data(), batch.cu_seqlens.data(), batch.n_seqs,
             batch.max_seqlen, nh, nkv, hd, 1.0f / std::sqrt(static_cast<float>(hd)));
  a.x2.resize(sz(T * H));
  LinearFwd(l, LinearModule::kO, a.attn.data(), T, a.x2.data(), keep, seed, training);
  d.Add(a.x2.data(), x_in, a.x2.data(), T * H);
  a.h2.resize(sz(T * H));
  a.rstd2.resize(sz(T));
  d.RmsNormFwd(a.x2.data(), L.post_norm.data(), a.h2.data(), a.rstd2.data(), T, H, eps);
  a.g.resize(sz(T * I));
  a.u.resize(sz(T * I));
  LinearFwd(l, LinearModule::kGate, a.h2.data(), T, a.g.data(), keep, seed, training);
  LinearFwd(l, LinearModule::kUp, a.h2.data(), T, a.u.data(), keep, seed, training);
  a.act.resize(sz(T * I));
  d.SwigluFwd(a.g.data(), a.u.data(), a.act.data(), T, I);
  LinearFwd(l, LinearModule::kDown, a.act.data(), T, x_out, keep, seed, training);
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
  d.FlashBwd(a.q.data(), a.k.data(), a.v.data(), a.attn.data(), a.lse.data(), dattn.data(), dq.data(), dk.data(),
             dv.data(), batch.cu_seqlens.data(), batch.n_seqs, batch.max_seqlen, nh, nkv, hd,
             1.0f / std::sqrt(static_cast<float>(hd)));
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
  const size_t row_bytes = sz(H) * sizeof(float);
  // Block inputs: the only activations kept between forward and backward.
  std::vector<DVec<float>> xs;
  for (int64_t l = 0; l <= NL; ++l) xs.emplace_back(&d, sz(T * H));
  d.Embedding(embed_.data(), batch.tokens.data(), xs[0].data(), T, H, V);
  for (int64_t l = 0; l < NL; ++l) {
    BlockFwd(l, batch, xs[sz(l)].data(), xs[sz(l + 1)].data(), nullptr, dropout_seed, training);
  }
  // Fused chunked cross-entropy over the labelled rows only.
  std::vector<int64_t> rows;
  for (int64_t t = 0; t < T; ++t) {
    if (host_batch.labels[sz(t)] >= 0) rows.push_back(t);
  }
  LossResult res;
  res.n_labels = static_cast<int64_t>(rows.size());
  DVec<float> dx(&d, sz(T * H));
  d.Zero(dx.data(), dx.size() * sizeof(float));
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int64_t CR = d.is_cuda() ? kLossChunkRowsCuda : kLossChunkRows;
  DVec<float> xin(&d, sz(CR * H)), hf(&d, sz(CR * H)), rstd(&d, sz(CR)), logits(&d, sz(CR * V)), dh(&d, sz(CR * H)),
      dxin(&d, sz(CR * H)), loss(&d, sz(CR));
  DVec<int32_t> labels(&d, sz(CR));
  std::vector<float> host_loss(sz(CR));
  std::vector<int32_t> host_labels(sz(CR));
  const float* xl = xs[sz(NL)].data();
  for (size_t begin = 0; begin < rows.size(); begin += sz(CR)) {
    const int64_t n = std::min<int64_t>(CR, static_cast<int64_t>(rows.size() - begin));
    for (int64_t i = 0; i < n; ++i) {
      d.Copy(xin.data() + i * H, xl + rows[begin + sz(i)] * H, row_bytes);
      host_labels[sz(i)] = host_batch.labels[sz(rows[begin + sz(i)])];
    }
    d.Upload(labels.data(), host_labels.data(), sz(n) * sizeof(int32_t));
    d.RmsNormFwd(xin.data(), final_norm_.data(), hf.data(), rstd.data(), n, H, eps);
    MatmulWt(d, hf.data(), LmHead(), logits.data(), n, V, H, 1.0f, 0.0f);
    d.CrossEntropy(logits.data(), labels.data(), loss.data(), n, V, grad_scale);
    d.Download(host_loss.data(), loss.data(), sz(n) * sizeof(float));
    for (int64_t i = 0; i < n; ++i) res.loss_sum += host_loss[sz(i)];
    d.Gemm(false, false, n, H, V, 1.0f, logits.data(), V, LmHead(), H, 0.0f, dh.data(), H);
    d.RmsNormBwd(xin.data(), final_norm_.data(), rstd.data(), dh.data(), dxin.data(), n, H);
    for (int64_t i = 0; i < n; ++i) d.Copy(dx.data() + rows[begin + sz(i)] * H, dxin.data() + i * H, row_bytes);
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
  DVec<float> x(&d, static_cast<size_t>(T * H)), y(&d, static_cast<size_t>(T * H));
  d.Embedding(embed_.data(), batch.tokens.data(), x.data(), T, H, V);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    BlockFwd(l, batch, x.data(), y.data(), nullptr, 0, false);
    std::swap(x, y);
  }
  const int64_t n = static_cast<int64_t>(rows.size());
  DVec<float> sel(&d, static_cast<size_t>(n * H)), hf(&d, static_cast<size_t>(n * H)), out(&d, static_cast<size_t>(n * V));
  for (int64_t i = 0; i < n; ++i) d.Copy(sel.data() + i * H, x.data() + rows[static_cast<size_t>(i)] * H, static_cast<size_t>(H) * sizeof(float));
  DVec<float> rstd(&d, static_cast<size_t>(n));
  d.RmsNormFwd(sel.data(), final_norm_.data(), hf.data(), rstd.data(), n, H, static_cast<float>(c.rms_norm_eps));
  MatmulWt(d, hf.data(), LmHead(), out.data(), n, V, H, 1.0f, 0.0f);
  return d.ToHost(out);
}

}  // namespace ritsu::train
