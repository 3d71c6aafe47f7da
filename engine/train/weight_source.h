// Where LoraNet::Create reads the frozen base: a checkpoint directory (every real run), or
// make-model's random values drawn in memory (`train --random-base-seed S`: benchmarks of shapes
// whose checkpoint is too large for the disk at hand, e.g. 32B = 65 GB of bf16). Both give the
// same numbers for the same model: RandomBaseWeights(config, S) reads exactly what
// `make-model --seed S --dtype bf16` writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model/config.h"
#include "engine/model/safetensors.h"

namespace ritsu::train {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The tensor's values as fp32; an error names the tensor when it is missing or misshapen.
  virtual Result<std::vector<float>> Read(const std::string& name, const std::vector<int64_t>& shape) const = 0;
};

class CheckpointWeights final : public WeightSource {
 public:
  explicit CheckpointWeights(const engine::Checkpoint& ck) : ck_(ck) {}
  Result<std::vector<float>> Read(const std::string& name, const std::vector<int64_t>& shape) const override {
    return ck_.ReadFloat(name, shape);
  }

 private:
  const engine::Checkpoint& ck_;
};

class RandomBaseWeights final : public WeightSource {
 public:
  RandomBaseWeights(const engine::ModelConfig& config, uint64_t seed) : config_(config), seed_(seed) {}
  Result<std::vector<float>> Read(const std::string& name, const std::vector<int64_t>& shape) const override;

 private:
  engine::ModelConfig config_;
  uint64_t seed_;
};

}  // namespace ritsu::train
