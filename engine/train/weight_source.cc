#include "engine/train/weight_source.h"

#include "engine/model/random_model.h"

namespace ritsu::train {

Result<std::vector<float>> RandomBaseWeights::Read(const std::string& name, const std::vector<int64_t>& shape) const {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  engine::RandomModelOptions o;
  o.seed = seed_;
  o.dtype = engine::DType::kBF16;
  // Rounded to bf16 as make-model stores them, so both sources give the same base.
  return engine::RandomTensorValues(config_, name, numel, o);
}

}  // namespace ritsu::train
