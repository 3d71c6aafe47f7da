// Checks a GGUF file against the HF model it was made from: the architecture and
// hyper-parameters in its metadata, that every tensor maps back to a checkpoint tensor with the
// reversed (ggml-order) shape, that no checkpoint tensor is missing (lm_head excepted when
// embeddings are tied), and that every element decodes to its source value within the bound of
// quantize.h for the tensor's type. The first failure is returned naming the key or tensor.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"
#include "engine/merge/gguf_export.h"
#include "engine/merge/gguf_reader.h"

namespace ritsu::merge {

struct GgufVerifyResult {
  size_t tensors_checked = 0;
  QuantErrorStats error;
};

Result<GgufVerifyResult> VerifyGgufAgainst(const GgufFile& gguf, const std::string& model_dir);

}  // namespace ritsu::merge
