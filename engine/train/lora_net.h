// The trainable network of `ritsu-engine train`: a Qwen2/Qwen3 decoder whose base weights are
// frozen (NF4 with --use-4bit, so the numbers are those of a QLoRA base; else dense in the
// device's compute dtype) with PEFT LoRA A/B masters in fp32 on the targeted linears.
//
// LossAndGrad runs one micro-batch of packed sequences (varlen: no padding tokens are ever
// computed, which is what "padded to the longest sample + attention mask" computes for the
// real tokens): a forward that keeps only each block's input (gradient checkpointing per
// block), the fused chunked cross-entropy over the rows that carry a label (logits of at most
// kLossChunkRows rows x vocab exist at a time), then per block, last to first, a recompute of
// the block's forward and its backward. LoRA gradients accumulate into LoraParam::grad_*;
// input gradients flow through the frozen weights, RMSNorms (incl. per-head q/k norm), RoPE,
// causal GQA attention (recomputed from the saved log-sum-exp) and SwiGLU.
//
// The numbers live on a TrainDevice (train_device.h): the host with kernels::cpu (the oracle,
// CI) or a CUDA GPU with kernels::cuda. Activations, LoRA and the optimizer are fp32; the
// frozen products and attention run in the device's compute dtype (fp32, or bf16 operands with
// fp32 accumulation: docs/training.md). The embedding table stays in host memory (only the
// batch's rows travel), the lm_head lives on the device in the compute dtype.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model/config.h"
#include "engine/model/lora_adapter.h"
#include "engine/model/safetensors.h"
#include "engine/train/train_device.h"
#include "engine/train/weight_source.h"

namespace ritsu::train {

using engine::LinearModule;
using engine::ModelConfig;

// One LoRA pair with its gradients and AdamW moments (all fp32, same shapes as a/b).
struct LoraParam {
  int64_t layer = 0;
  LinearModule module = LinearModule::kQ;
  int64_t r = 0, in_features = 0, out_features = 0;
  DVec<float> a, b;            // A [r, in], B [out, r]
  DVec<float> grad_a, grad_b;  // accumulated over micro-batches
  DVec<float> m_a, v_a, m_b, v_b;
};

// Sequences packed along the token axis.
struct PackedBatch {
  std::vector<int32_t> tokens;      // [T]
  std::vector<int32_t> positions;   // [T] position within its sequence
  std::vector<int32_t> labels;      // [T] next-token target or -100
  std::vector<int32_t> cu_seqlens;  // [n_seqs + 1]
  int64_t max_seqlen = 0;
  int64_t n_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t n_labels() const;
};

struct LossResult {
  double loss_sum = 0;   // sum over labelled rows of -log p(label)
  int64_t n_labels = 0;
};

class LoraNet {
 public:
  // Reads the frozen base from `weights` (every tensor checked against `config`); with use_4bit
  // the seven decoder linears are quantized to NF4 by the device (bit-identical on both) and
  // stored packed there. The LoRA pairs come from `adapter` (its config gives r, alpha,
  // dropout, targets). `device` null = the host (kernels::cpu, fp32).
  static Result<std::unique_ptr<LoraNet>> Create(const ModelConfig& config, const WeightSource& weights,
                                                 bool use_4bit, const engine::LoraAdapter& adapter,
                                                 std::unique_ptr<TrainDevice> device = nullptr);
  static Result<std::unique_ptr<LoraNet>> Create(const ModelConfig& config, const engine::Checkpoint& ck,
                                                 bool use_4bit, const engine::LoraAdapter& adapter,
                                                 std::unique_ptr<TrainDevice> device = nullptr) {
    return Create(config, CheckpointWeights(ck), use_4bit, adapter, std::move(device));
  }
  ~LoraNet();

  const ModelConfig& config() const { return config_; }
  TrainDevice& device() const { return *device_; }
  std::vector<float> Host(const DVec<float>& v) const { return device_->ToHost(v); }
  void SetFromHost(DVec<float>& dst, const std::vector<float>& src) const;
  std::vector<LoraParam>& params() { return params_; }
  const std::vector<LoraParam>& params() const { return params_; }
  float lora_scale() const { return scale_; }
  double dropout() const { return dropout_; }

  // Forward + backward of one micro-batch. Gradients of the mean loss are accumulated with
  // weight grad_scale per labelled row (pass 1 / labelled rows of the whole optimizer step).
  // dropout_seed selects the dropout masks (counter-based: the same seed gives the same masks,
  // so the recompute of a block matches its first forward and a resume replays exactly).
  LossResult LossAndGrad(const PackedBatch& batch, float grad_scale, uint64_t dropout_seed, bool training);
  // Forward only (no dropout): per-row logits [rows.size(), vocab] of the listed packed rows.
  std::vector<float> Logits(const PackedBatch& batch, const std::vector<int64_t>& rows);

  void ZeroGrads();
  // The current A/B as a PEFT adapter (for saving).
  engine::LoraAdapter ToAdapter(const engine::LoraConfig& config) const;

  // Rows of logits materialised at once by the chunked cross-entropy: few on the host (cache),
  // more on a GPU so the lm_head gemm fills the device (256 x 151,936 fp32 = 156 MB).
  static constexpr int64_t kLossChunkRows = 16;
  static constexpr int64_t kLossChunkRowsCuda = 256;

 private:
  struct Layer;
  struct BlockActs;
  struct DeviceBatch;
  LoraNet() = default;
  // x is the fp32 input; xb its bf16 copy when the device computes in bf16 (else null).
  void LinearFwd(int64_t layer, LinearModule m, const float* x, const bf16* xb, int64_t T, float* y,
                 BlockActs* acts, uint64_t seed, bool training);
  void LinearBwd(int64_t layer, LinearModule m, const float* dy, int64_t T, float* dx_accum, BlockActs& acts);
  void BlockFwd(int64_t layer, const DeviceBatch& batch, const float* x_in, float* x_out, BlockActs* acts,
                uint64_t seed, bool training);
  void BlockBwd(int64_t layer, const DeviceBatch& batch, BlockActs& acts, float* dx);
  DeviceBatch Upload(const PackedBatch& batch);
  // The frozen products of a decoder linear W [out, in] in the compute dtype:
  // y = x W^T (beta = 0) and dx += dy W. NF4 weights are dequantized into a scratch per call.
  void FrozenFwd(int64_t layer, LinearModule m, const float* x, const bf16* xb, int64_t T, float* y);
  // W itself in the compute dtype: its dense copy, or its NF4 copy dequantized into the
  // scratch (valid until the next call).
  const bf16* FrozenBf16(int64_t layer, LinearModule m);
  const float* FrozenF32(int64_t layer, LinearModule m);
  void FrozenBwd(int64_t layer, LinearModule m, const float* dy, int64_t T, float* dx);
  // logits [n, V] = h lm_head^T and dh [n, H] = dlogits lm_head (dlogits overwritten in bf16 mode).
  void LmHeadFwd(const float* h, int64_t n, float* logits);
  void LmHeadBwd(const float* dlogits, int64_t n, float* dh);
  // x [T, H] = the embedding rows of the batch's tokens (gathered on the host).
  void EmbedTokens(const PackedBatch& batch, float* x);
  // A bf16 staging copy of x (valid until the next Stage call).
  const bf16* Stage(const float* x, int64_t n);

  std::unique_ptr<TrainDevice> device_;  // first member: outlives every buffer
  ModelConfig config_;
  float scale_ = 0;
  double dropout_ = 0;
  std::vector<float> embed_host_;  // [vocab, hidden]
  DVec<float> final_norm_, lm_head_;  // lm_head_ in fp32 compute
  DVec<bf16> lm_head_b_;              // ... or bf16
  DVec<float> nf4_code_, frozen_scratch_;  // NF4 absmax code table; one dequantized linear (fp32)
  DVec<bf16> frozen_scratch_b_, stage_b_;  // ... (bf16); the bf16 staging buffer
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<LoraParam> params_;
};

}  // namespace ritsu::train
