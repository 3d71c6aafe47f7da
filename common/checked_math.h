// Overflow-checked products for sizes read from files (tensor shapes, element counts, byte
// lengths). A file can declare any 64-bit numbers; multiplied unchecked they wrap around, and a
// tensor of 2^63 elements x 4 bytes "needs" 0 bytes and passes a size check. Every place that
// multiplies declared dimensions goes through these, so the wrap is impossible by construction.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <type_traits>

namespace ritsu {

// a * b, or nullopt when the exact product does not fit in T.
template <typename T>
  requires std::is_integral_v<T>
constexpr std::optional<T> CheckedMul(T a, T b) {
  T out;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// a + b, or nullopt when the exact sum does not fit in T.
template <typename T>
  requires std::is_integral_v<T>
constexpr std::optional<T> CheckedAdd(T a, T b) {
  T out;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// The element count of a shape: the product of its dimensions, or nullopt when a dimension is
// negative or the product exceeds INT64_MAX (so that it also fits every int64_t numel()).
// An empty shape is a scalar (1 element).
constexpr std::optional<int64_t> CheckedElements(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    auto p = CheckedMul<int64_t>(n, d);
    if (!p) return std::nullopt;
    n = *p;
  }
  return n;
}

// Bytes of `shape` with elements of `elem_size` bytes, or nullopt on a negative dimension or
// when the byte count exceeds INT64_MAX.
constexpr std::optional<uint64_t> CheckedByteSize(std::span<const int64_t> shape, uint64_t elem_size) {
  auto n = CheckedElements(shape);
  if (!n) return std::nullopt;
  auto b = CheckedMul<uint64_t>(static_cast<uint64_t>(*n), elem_size);
  if (!b || *b > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return b;
}

}  // namespace ritsu
