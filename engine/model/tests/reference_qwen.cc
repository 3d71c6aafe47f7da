#include "engine/model/tests/reference_qwen.h"

#include <cmath>

namespace ritsu::engine::testing {
namespace {

using Mat = std::vector<std::vector<double>>;  // [tokens][features]

const std::vector<double>& W(const WeightMap& w, const std::string& name) { return w.at(name); }

// y[t][o] = sum_i x[t][i] * W[o][i] (+ b[o])
Mat LinearRef(const Mat& x, const std::vector<double>& weight, int64_t out, const std::vector<double>* bias) {
  const size_t in = x[0].size();
  Mat y(x.size(), std::vector<double>(static_cast<size_t>(out)));
  for (size_t t = 0; t < x.size(); ++t) {
    for (int64_t o = 0; o < out; ++o) {
      double s = bias ? (*bias)[static_cast<size_t>(o)] : 0.0;
      for (size_t i = 0; i < in; ++i) s += x[t][i] * weight[static_cast<size_t>(o) * in + i];
      y[t][static_cast<size_t>(o)] = s;
    }
  }
  return y;
}

// Qwen2RMSNorm / Qwen3RMSNorm: x / sqrt(mean(x^2) + eps) * weight, over `dim` wide groups.
void RmsNormRef(std::vector<double>& x, size_t offset, size_t dim, const std::vector<double>& weight, double eps) {
  double ss = 0;
  for (size_t i = 0; i < dim; ++i) ss += x[offset + i] * x[offset + i];
  const double r = 1.0 / std::sqrt(ss / static_cast<double>(dim) + eps);
  for (size_t i = 0; i < dim; ++i) x[offset + i] = x[offset + i] * r * weight[i];
}

// apply_rotary_pos_emb with rotate_half: pairs (i, i + d/2), inv_freq = theta^(-2i/d).
void RopeRef(std::vector<double>& x, size_t offset, size_t d, int64_t pos, double theta) {
  const size_t half = d / 2;
  for (size_t i = 0; i < half; ++i) {
    const double inv_freq = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(d));
    const double a = static_cast<double>(pos) * inv_freq;
    const double x1 = x[offset + i], x2 = x[offset + i + half];
    x[offset + i] = x1 * std::cos(a) - x2 * std::sin(a);
    x[offset + i + half] = x2 * std::cos(a) + x1 * std::sin(a);
  }
}

}  // namespace

std::vector<std::vector<double>> ReferenceLogits(const ModelConfig& c, const WeightMap& w,
                                                 const std::vector<int32_t>& tokens) {
  const size_t T = tokens.size(), H = static_cast<size_t>(c.hidden_size), hd = static_cast<size_t>(c.head_dim);
  const size_t nh = static_cast<size_t>(c.num_attention_heads), nkv = static_cast<size_t>(c.num_key_value_heads);
  const auto& emb = W(w, "model.embed_tokens.weight");
  Mat x(T, std::vector<double>(H));
  for (size_t t = 0; t < T; ++t) {
    for (size_t i = 0; i < H; ++i) x[t][i] = emb[static_cast<size_t>(tokens[t]) * H + i];
  }
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Mat h = x;
    for (auto& row : h) RmsNormRef(row, 0, H, W(w, p + "input_layernorm.weight"), c.rms_norm_eps);
    auto bias = [&](const char* name) { return c.attention_bias ? &W(w, p + "self_attn." + name + ".bias") : nullptr; };
    Mat q = LinearRef(h, W(w, p + "self_attn.q_proj.weight"), c.q_dim(), bias("q_proj"));
    Mat k = LinearRef(h, W(w, p + "self_attn.k_proj.weight"), c.kv_dim(), bias("k_proj"));
    Mat v = LinearRef(h, W(w, p + "self_attn.v_proj.weight"), c.kv_dim(), bias("v_proj"));
    for (size_t t = 0; t < T; ++t) {
      for (size_t hh = 0; hh < nh; ++hh) {
        if (c.arch == Arch::kQwen3) RmsNormRef(q[t], hh * hd, hd, W(w, p + "self_attn.q_norm.weight"), c.rms_norm_eps);
        RopeRef(q[t], hh * hd, hd, static_cast<int64_t>(t), c.rope_theta);
      }
      for (size_t hh = 0; hh < nkv; ++hh) {
        if (c.arch == Arch::kQwen3) RmsNormRef(k[t], hh * hd, hd, W(w, p + "self_attn.k_norm.weight"), c.rms_norm_eps);
        RopeRef(k[t], hh * hd, hd, static_cast<int64_t>(t), c.rope_theta);
      }
    }
    // Causal softmax attention; query head hh reads kv head hh / (nh / nkv) (repeat_kv).
    Mat attn(T, std::vector<double>(nh * hd, 0.0));
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    for (size_t t = 0; t < T; ++t) {
      for (size_t hh = 0; hh < nh; ++hh) {
        const size_t kvh = hh / (nh / nkv);
        std::vector<double> s(t + 1);
        double mx = -1e300;
        for (size_t j = 0; j <= t; ++j) {
          double dot = 0;
          for (size_t d = 0; d < hd; ++d) dot += q[t][hh * hd + d] * k[j][kvh * hd + d];
          s[j] = dot * scale;
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (auto& e : s) z += (e = std::exp(e - mx));
        for (size_t j = 0; j <= t; ++j) {
          for (size_t d = 0; d < hd; ++d) attn[t][hh * hd + d] += s[j] / z * v[j][kvh * hd + d];
        }
      }
    }
    Mat o = LinearRef(attn, W(w, p + "self_attn.o_proj.weight"), c.hidden_size, nullptr);
    for (size_t t = 0; t < T; ++t) {
      for (size_t i = 0; i < H; ++i) x[t][i] += o[t][i];
    }
    h = x;
    for (auto& row : h) RmsNormRef(row, 0, H, W(w, p + "post_attention_layernorm.weight"), c.rms_norm_eps);
    Mat g = LinearRef(h, W(w, p + "mlp.gate_proj.weight"), c.intermediate_size, nullptr);
    Mat u = LinearRef(h, W(w, p + "mlp.up_proj.weight"), c.intermediate_size, nullptr);
    for (size_t t = 0; t < T; ++t) {
      for (size_t i = 0; i < g[t].size(); ++i) g[t][i] = g[t][i] / (1.0 + std::exp(-g[t][i])) * u[t][i];
    }
    Mat d = LinearRef(g, W(w, p + "mlp.down_proj.weight"), c.hidden_size, nullptr);
    for (size_t t = 0; t < T; ++t) {
      for (size_t i = 0; i < H; ++i) x[t][i] += d[t][i];
    }
  }
  for (auto& row : x) RmsNormRef(row, 0, H, W(w, "model.norm.weight"), c.rms_norm_eps);
  const auto& head = c.tie_word_embeddings ? emb : W(w, "lm_head.weight");
  return LinearRef(x, head, c.vocab_size, nullptr);
}

}  // namespace ritsu::engine::testing
