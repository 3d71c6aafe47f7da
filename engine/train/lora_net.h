// The trainable network of `ritsu-engine train`: a Qwen2/Qwen3 decoder whose base weights are
// frozen fp32 host copies (dequantized from NF4 when --use-4bit, so the numbers are those of
// a QLoRA base) with PEFT LoRA A/B masters in fp32 on the targeted linears.
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
// CI) or a CUDA GPU with kernels::cuda, fp32 on both for now (see docs/training.md).
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
  // Reads the frozen base from `ck` (every tensor checked against `config`); with use_4bit the
  // seven decoder linears are quantized to NF4 on the host and stored packed on the device. The LoRA pairs come from `adapter`
  // (its config gives r, alpha, dropout, targets).
  // `device` null = the host (kernels::cpu).
  static Result<std::unique_ptr<LoraNet>> Create(const ModelConfig& config, const engine::Checkpoint& ck,
                                                 bool use_4bit, const engine::LoraAdapter& adapter,
                                                 std::unique_ptr<TrainDevice> device = nullptr);
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
  void LinearFwd(int64_t layer, LinearModule m, const float* x, int64_t T, float* y, BlockActs* acts,
                 uint64_t seed, bool training);
  void LinearBwd(int64_t layer, LinearModule m, const float* dy, int64_t T, float* dx_accum, BlockActs& acts);
  void BlockFwd(int64_t layer, const DeviceBatch& batch, const float* x_in, float* x_out, BlockActs* acts,
                uint64_t seed, bool training);
  void BlockBwd(int64_t layer, const DeviceBatch& batch, BlockActs& acts, float* dx);
  DeviceBatch Upload(const PackedBatch& batch);
  const float* LmHead() const;
  // The fp32 values of a frozen decoder linear: its dense copy, or its NF4 copy dequantized into
  // frozen_scratch_ (valid until the next call).
  const float* FrozenWeight(int64_t layer, LinearModule m);

  std::unique_ptr<TrainDevice> device_;  // first member: outlives every buffer
  ModelConfig config_;
  float scale_ = 0;
  double dropout_ = 0;
  DVec<float> embed_, final_norm_, lm_head_;
  DVec<float> nf4_code_, frozen_scratch_;  // NF4 absmax code table; one dequantized linear
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<LoraParam> params_;
};

}  // namespace ritsu::train
