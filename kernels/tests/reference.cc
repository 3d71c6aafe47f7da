#include "kernels/tests/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/nf4/nf4.h"

namespace ritsu::kernels::ref {

Vec rms_norm(const Vec& x, const Vec& w, int64_t rows, int64_t dim, double eps, Vec* rstd) {
  Vec y(x.size());
  if (rstd) rstd->resize(rows);
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t j = 0; j < dim; ++j) ss += x[r * dim + j] * x[r * dim + j];
    double inv = 1.0 / std::sqrt(ss / dim + eps);
    if (rstd) (*rstd)[r] = inv;
    for (int64_t j = 0; j < dim; ++j) y[r * dim + j] = w[j] * x[r * dim + j] * inv;
  }
  return y;
}

void rope(Vec& x, const std::vector<int32_t>& pos, int64_t n_tokens, int64_t n_heads,
          int64_t head_dim, int64_t token_stride, double theta) {
  const int64_t half = head_dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t h = 0; h < n_heads; ++h) {
      double* v = x.data() + t * token_stride + h * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        double inv_freq = 1.0 / std::pow(theta, double(2 * i) / double(head_dim));
        double a = pos[t] * inv_freq;
        double x1 = v[i], x2 = v[i + half];
        v[i] = x1 * std::cos(a) - x2 * std::sin(a);
        v[i + half] = x2 * std::cos(a) + x1 * std::sin(a);
      }
    }
}

Vec attention(const Vec& q, const Vec& k, const Vec& v, const std::vector<int32_t>& cu_q,
              const std::vector<int32_t>& cu_k, int64_t n_heads, int64_t n_kv_heads,
              int64_t head_dim, int64_t q_stride, int64_t kv_stride, double scale, Vec* lse) {
  const int64_t batch = int64_t(cu_q.size()) - 1;
  const int64_t total_q = cu_q[batch];
  Vec out(total_q * n_heads * head_dim, 0.0);
  if (lse) lse->assign(n_heads * total_q, 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t lq = cu_q[b + 1] - cu_q[b], lk = cu_k[b + 1] - cu_k[b];
    for (int64_t h = 0; h < n_heads; ++h) {
      const int64_t kvh = h * n_kv_heads / n_heads;
      // The whole [lq, lk] score matrix with -inf above the shifted diagonal.
      std::vector<double> s(lq * lk);
      for (int64_t i = 0; i < lq; ++i)
        for (int64_t j = 0; j < lk; ++j) {
          if (j > i + (lk - lq)) {
            s[i * lk + j] = -std::numeric_limits<double>::infinity();
            continue;
          }
          double d = 0;
          for (int64_t e = 0; e < head_dim; ++e)
            d += q[(cu_q[b] + i) * q_stride + h * head_dim + e] *
                 k[(cu_k[b] + j) * kv_stride + kvh * head_dim + e];
          s[i * lk + j] = d * scale;
        }
      for (int64_t i = 0; i < lq; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < lk; ++j) mx = std::max(mx, s[i * lk + j]);
        double sum = 0;
        for (int64_t j = 0; j < lk; ++j) sum += std::exp(s[i * lk + j] - mx);
        if (lse) (*lse)[h * total_q + cu_q[b] + i] = mx + std::log(sum);
        for (int64_t j = 0; j < lk; ++j) {
          double p = std::exp(s[i * lk + j] - mx) / sum;
          for (int64_t e = 0; e < head_dim; ++e)
            out[((cu_q[b] + i) * n_heads + h) * head_dim + e] +=
                p * v[(cu_k[b] + j) * kv_stride + kvh * head_dim + e];
        }
      }
    }
  }
  return out;
}

Vec swiglu(const Vec& gate, const Vec& up) {
  Vec out(gate.size());
  for (size_t i = 0; i < gate.size(); ++i)
    out[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
  return out;
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const Vec& A,
          int64_t lda, const Vec& B, int64_t ldb, double beta, Vec& C, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) {
        double a = ta ? A[k * lda + m] : A[m * lda + k];
        double b = tb ? B[n * ldb + k] : B[k * ldb + n];
        s += a * b;
      }
      C[m * ldc + n] = alpha * s + (beta == 0 ? 0.0 : beta * C[m * ldc + n]);
    }
}

void cross_entropy(const Vec& logits, const std::vector<int32_t>& labels, int64_t rows,
                   int64_t vocab, double grad_scale, Vec* loss, Vec* dlogits) {
  loss->assign(rows, 0.0);
  dlogits->assign(rows * vocab, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    if (labels[r] < 0) continue;
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < vocab; ++i) mx = std::max(mx, logits[r * vocab + i]);
    double sum = 0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(logits[r * vocab + i] - mx);
    double lse = mx + std::log(sum);
    (*loss)[r] = lse - logits[r * vocab + labels[r]];
    for (int64_t i = 0; i < vocab; ++i)
      (*dlogits)[r * vocab + i] =
          (std::exp(logits[r * vocab + i] - lse) - (i == labels[r] ? 1.0 : 0.0)) * grad_scale;
  }
}

namespace {
template <class Levels>
uint8_t nearest(const Levels& levels, int count, double x) {
  int best = 0;
  for (int i = 1; i < count; ++i)
    if (std::fabs(x - levels[i]) < std::fabs(x - levels[best])) best = i;
  return uint8_t(best);
}
}  // namespace

Nf4 nf4_quantize(const Vec& w) {
  Nf4 q;
  const int64_t n = int64_t(w.size());
  const int64_t blocks = (n + 63) / 64;
  q.codes.resize(n);
  q.absmax.resize(blocks);
  for (int64_t b = 0; b < blocks; ++b) {
    double amax = 0;
    for (int64_t e = b * 64; e < std::min(n, b * 64 + 64); ++e) amax = std::max(amax, std::fabs(w[e]));
    q.absmax[b] = amax;
    for (int64_t e = b * 64; e < std::min(n, b * 64 + 64); ++e)
      q.codes[e] = nearest(kNf4Code, 16, amax > 0 ? w[e] / amax : 0.0);
  }
  double sum = 0;
  for (double a : q.absmax) sum += a;
  q.offset = sum / double(blocks);
  const float* code = nf4_absmax_code();
  const int64_t groups = (blocks + 255) / 256;
  q.absmax_q.resize(blocks);
  q.absmax_scale.resize(groups);
  for (int64_t g = 0; g < groups; ++g) {
    double amax2 = 0;
    for (int64_t b = g * 256; b < std::min(blocks, g * 256 + 256); ++b)
      amax2 = std::max(amax2, std::fabs(q.absmax[b] - q.offset));
    q.absmax_scale[g] = amax2;
    for (int64_t b = g * 256; b < std::min(blocks, g * 256 + 256); ++b)
      q.absmax_q[b] = nearest(code, 256, amax2 > 0 ? (q.absmax[b] - q.offset) / amax2 : 0.0);
  }
  return q;
}

Vec nf4_dequantize(const Nf4& q) {
  const float* code = nf4_absmax_code();
  Vec out(q.codes.size());
  for (size_t e = 0; e < out.size(); ++e) {
    const size_t b = e / 64;
    double amax = code[q.absmax_q[b]] * q.absmax_scale[b / 256] + q.offset;
    out[e] = kNf4Code[q.codes[e]] * amax;
  }
  return out;
}

double rel_error(const Vec& got, const Vec& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace ritsu::kernels::ref
