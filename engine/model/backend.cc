#include "engine/model/backend.h"

namespace ritsu::engine {

Tensor Tensor::Reshape(int64_t new_rows, int64_t new_cols) const {
  Tensor t = *this;
  t.rows = new_rows;
  t.cols = new_cols;
  return t;
}

Tensor Tensor::RowSlice(int64_t begin, int64_t count) const {
  Tensor t = *this;
  t.offset_bytes += static_cast<size_t>(begin * cols) * DTypeSize(dtype);
  t.rows = count;
  return t;
}

void StepLayout::Finalize() {
  positions.clear();
  slots.clear();
  for (const Segment& s : segments) {
    for (int32_t i = 0; i < s.n_tokens; ++i) {
      positions.push_back(s.start_pos + i);
      slots.push_back(s.slot);
    }
  }
  n_tokens = static_cast<int64_t>(positions.size());
  device_state.reset();
}

KvCache Backend::NewKvCache(int64_t n_layers, int64_t n_slots, int64_t max_seq, int64_t n_kv_heads, int64_t head_dim) {
  KvCache c;
  c.n_slots = n_slots;
  c.max_seq = max_seq;
  c.n_kv_heads = n_kv_heads;
  c.head_dim = head_dim;
  for (int64_t l = 0; l < n_layers; ++l) {
    c.k.push_back(Alloc(n_slots * max_seq, n_kv_heads * head_dim, activation_dtype()));
    c.v.push_back(Alloc(n_slots * max_seq, n_kv_heads * head_dim, activation_dtype()));
  }
  return c;
}

}  // namespace ritsu::engine
