#include "engine/merge/gguf_writer.h"

#include <fmt/format.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/checked_math.h"

namespace ritsu::merge {
namespace {

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

size_t ScalarSize(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8: case GgufValueType::kI8: case GgufValueType::kBool: return 1;
    case GgufValueType::kU16: case GgufValueType::kI16: return 2;
    case GgufValueType::kU32: case GgufValueType::kI32: case GgufValueType::kF32: return 4;
    case GgufValueType::kU64: case GgufValueType::kI64: case GgufValueType::kF64: return 8;
    default: return 0;
  }
}

uint64_t ValueSize(const GgufValue& v) {
  if (v.type == GgufValueType::kString) return 8 + v.s.size();
  if (v.type == GgufValueType::kArray) {
    uint64_t n = 4 + 8;
    for (const auto& e : v.array) n += ValueSize(e);
    return n;
  }
  return ScalarSize(v.type);
}

}  // namespace

int64_t GgufTensorInfo::Elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment_ != kGgufDefaultAlignment) Set("general.alignment", GgufValue::U32(alignment_));
}

GgufWriter::~GgufWriter() {
  if (f_) std::fclose(f_);
}

void GgufWriter::Set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  kv_.emplace_back(key, std::move(value));
}

Status GgufWriter::AddTensor(const std::string& name, std::vector<int64_t> ne, GgmlType type) {
  const auto& tr = TraitsOf(type);
  if (ne.empty() || ne.size() > 4) {
    return Status::InvalidArgument(fmt::format("tensor {}: {} dimensions (GGUF holds 1 to 4)", name, ne.size()));
  }
  for (int64_t d : ne) {
    if (d <= 0) return Status::InvalidArgument(fmt::format("tensor {}: dimension {} must be positive", name, d));
  }
  if (ne[0] % tr.block_elems != 0) {
    return Status::InvalidArgument(fmt::format("tensor {}: row length {} is not a multiple of {}'s block of {}",
                                               name, ne[0], tr.name, tr.block_elems));
  }
  for (const auto& t : tensors_) {
    if (t.name == name) return Status::InvalidArgument(fmt::format("tensor {} is declared twice", name));
  }
  // The same checked products as the reader, so the writer never declares what it refuses.
  const auto elems = CheckedElements(ne);
  const auto bytes = elems ? CheckedMul<uint64_t>(static_cast<uint64_t>(*elems / tr.block_elems), tr.block_bytes)
                           : std::nullopt;
  if (!bytes) return Status::InvalidArgument(fmt::format("tensor {}: element or byte count overflows 64 bits", name));
  GgufTensorInfo info{name, std::move(ne), type, 0, 0};
  info.bytes = *bytes;
  info.offset = data_bytes_;
  data_bytes_ = AlignUp(data_bytes_ + info.bytes, alignment_);
  tensors_.push_back(std::move(info));
  return Status::Ok();
}

uint64_t GgufWriter::HeaderSize() const {
  uint64_t n = 4 + 4 + 8 + 8;
  for (const auto& [k, v] : kv_) n += 8 + k.size() + 4 + ValueSize(v);
  for (const auto& t : tensors_) n += 8 + t.name.size() + 4 + 8 * t.ne.size() + 4 + 8;
  return AlignUp(n, alignment_);
}

uint64_t GgufWriter::FileSize() const { return HeaderSize() + data_bytes_; }

Status GgufWriter::WriteRaw(const void* p, size_t n) {
  if (n && std::fwrite(p, 1, n, f_) != n) {
    return Status::IOError(fmt::format("writing {}: {}", path_, std::strerror(errno)));
  }
  pos_ += n;
  return Status::Ok();
}

Status GgufWriter::WritePadding(uint64_t target) {
  static const char kZeros[64] = {};
  while (pos_ < target) {
    RITSU_RETURN_IF_ERROR(WriteRaw(kZeros, std::min<uint64_t>(sizeof kZeros, target - pos_)));
  }
  return Status::Ok();
}

Status GgufWriter::WriteString(const std::string& s) {
  const uint64_t n = s.size();
  RITSU_RETURN_IF_ERROR(WriteRaw(&n, 8));
  return WriteRaw(s.data(), s.size());
}

Status GgufWriter::WriteValue(const GgufValue& v, bool with_type) {
  if (with_type) {
    const auto t = static_cast<uint32_t>(v.type);
    RITSU_RETURN_IF_ERROR(WriteRaw(&t, 4));
  }
  switch (v.type) {
    case GgufValueType::kString: return WriteString(v.s);
    case GgufValueType::kArray: {
      const auto et = static_cast<uint32_t>(v.elem_type);
      const uint64_t n = v.array.size();
      RITSU_RETURN_IF_ERROR(WriteRaw(&et, 4));
      RITSU_RETURN_IF_ERROR(WriteRaw(&n, 8));
      for (const auto& e : v.array) RITSU_RETURN_IF_ERROR(WriteValue(e, false));
      return Status::Ok();
    }
    case GgufValueType::kF32: {
      const float x = static_cast<float>(v.f);
      return WriteRaw(&x, 4);
    }
    case GgufValueType::kF64: return WriteRaw(&v.f, 8);
    case GgufValueType::kI8: case GgufValueType::kI16: case GgufValueType::kI32:
    case GgufValueType::kI64:
      return WriteRaw(&v.i, ScalarSize(v.type));  // little-endian: the low bytes come first
    default:
      return WriteRaw(&v.u, ScalarSize(v.type));
  }
}

Status GgufWriter::Begin(const std::string& path) {
  path_ = path;
  header_size_ = HeaderSize();
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) return Status::IOError(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  buffer_.resize(1 << 22);
  std::setvbuf(f_, buffer_.data(), _IOFBF, buffer_.size());
  RITSU_RETURN_IF_ERROR(WriteRaw("GGUF", 4));
  const uint32_t version = kGgufVersion;
  const uint64_t n_tensors = tensors_.size(), n_kv = kv_.size();
  RITSU_RETURN_IF_ERROR(WriteRaw(&version, 4));
  RITSU_RETURN_IF_ERROR(WriteRaw(&n_tensors, 8));
  RITSU_RETURN_IF_ERROR(WriteRaw(&n_kv, 8));
  for (const auto& [k, v] : kv_) {
    RITSU_RETURN_IF_ERROR(WriteString(k));
    RITSU_RETURN_IF_ERROR(WriteValue(v, true));
  }
  for (const auto& t : tensors_) {
    RITSU_RETURN_IF_ERROR(WriteString(t.name));
    const uint32_t nd = static_cast<uint32_t>(t.ne.size());
    RITSU_RETURN_IF_ERROR(WriteRaw(&nd, 4));
    for (int64_t d : t.ne) {
      const uint64_t u = static_cast<uint64_t>(d);
      RITSU_RETURN_IF_ERROR(WriteRaw(&u, 8));
    }
    const auto type = static_cast<uint32_t>(t.type);
    RITSU_RETURN_IF_ERROR(WriteRaw(&type, 4));
    RITSU_RETURN_IF_ERROR(WriteRaw(&t.offset, 8));
  }
  return WritePadding(header_size_);
}

Status GgufWriter::WriteTensor(size_t index, const uint8_t* data, size_t bytes) {
  if (index != next_tensor_ || written_in_tensor_ != 0) {
    return Status::FailedPrecondition(fmt::format("{}: tensor {} written out of order (expected {})", path_,
                                                  index, next_tensor_));
  }
  if (index < tensors_.size() && bytes != tensors_[index].bytes) {
    return Status::InvalidArgument(fmt::format("{}: tensor {} has {} bytes, its table entry says {}", path_,
                                               tensors_[index].name, bytes, tensors_[index].bytes));
  }
  return AppendTensorData(data, bytes);
}

Status GgufWriter::AppendTensorData(const uint8_t* data, size_t bytes) {
  if (!f_) return Status::FailedPrecondition("GgufWriter: tensor data before Begin");
  if (next_tensor_ >= tensors_.size()) {
    return Status::FailedPrecondition(fmt::format("{}: more tensor data than the table declares", path_));
  }
  const auto& t = tensors_[next_tensor_];
  if (written_in_tensor_ + bytes > t.bytes) {
    return Status::InvalidArgument(fmt::format("{}: tensor {} gets {} bytes, its table entry says {}", path_,
                                               t.name, written_in_tensor_ + bytes, t.bytes));
  }
  if (written_in_tensor_ == 0) RITSU_RETURN_IF_ERROR(WritePadding(header_size_ + t.offset));
  RITSU_RETURN_IF_ERROR(WriteRaw(data, bytes));
  written_in_tensor_ += bytes;
  if (written_in_tensor_ == t.bytes) {
    ++next_tensor_;
    written_in_tensor_ = 0;
  }
  return Status::Ok();
}

Status GgufWriter::Finish() {
  if (!f_) return Status::FailedPrecondition("GgufWriter::Finish before Begin");
  if (next_tensor_ != tensors_.size()) {
    return Status::FailedPrecondition(fmt::format("{}: only {} of {} tensors written", path_, next_tensor_,
                                                  tensors_.size()));
  }
  RITSU_RETURN_IF_ERROR(WritePadding(header_size_ + data_bytes_));
  const bool flushed = std::fflush(f_) == 0 && fsync(fileno(f_)) == 0;
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!flushed || !closed) return Status::IOError(fmt::format("writing {}: {}", path_, std::strerror(errno)));
  return Status::Ok();
}

}  // namespace ritsu::merge
