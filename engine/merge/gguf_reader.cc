#include "engine/merge/gguf_reader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "common/checked_math.h"
#include "engine/merge/quantize.h"

namespace ritsu::merge {

struct GgufFile::Mapping {
  const uint8_t* data = nullptr;
  size_t size = 0;
  bool mapped = false;        // data is an mmap to release
  std::vector<uint8_t> owned;  // FromBuffer: the copy data points into
  ~Mapping() {
    if (data && mapped) munmap(const_cast<uint8_t*>(data), size);
  }
};

namespace {

// Bounds-checked little-endian cursor over the mapped file.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* p, size_t n) : path_(path), p_(p), n_(n) {}
  size_t pos() const { return pos_; }

  Status Bytes(void* out, size_t k, const char* what) {
    if (k > n_ - pos_) {
      return Status::Corruption(fmt::format("{}: truncated at byte {} while reading {}", path_, pos_, what));
    }
    std::memcpy(out, p_ + pos_, k);
    pos_ += k;
    return Status::Ok();
  }
  template <typename T>
  Status Get(T* out, const char* what) { return Bytes(out, sizeof(T), what); }

  Status String(std::string* out, const char* what) {
    uint64_t len;
    RITSU_RETURN_IF_ERROR(Get(&len, what));
    if (len > n_ - pos_) {
      return Status::Corruption(fmt::format("{}: {} at byte {} claims {} bytes, past the end of the file",
                                            path_, what, pos_ - 8, len));
    }
    out->assign(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }
  size_t remaining() const { return n_ - pos_; }

 private:
  const std::string& path_;
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

Status ReadValue(Cursor& c, GgufValueType type, const std::string& key, GgufValue* out, int depth) {
  out->type = type;
  switch (type) {
    case GgufValueType::kU8: { uint8_t v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->u = v; break; }
    case GgufValueType::kBool: { uint8_t v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->u = v != 0; break; }
    case GgufValueType::kI8: { int8_t v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->i = v; break; }
    case GgufValueType::kU16: { uint16_t v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->u = v; break; }
    case GgufValueType::kI16: { int16_t v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->i = v; break; }
    case GgufValueType::kU32: { uint32_t v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->u = v; break; }
    case GgufValueType::kI32: { int32_t v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->i = v; break; }
    case GgufValueType::kF32: { float v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->f = v; break; }
    case GgufValueType::kU64: { uint64_t v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->u = v; break; }
    case GgufValueType::kI64: { int64_t v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->i = v; break; }
    case GgufValueType::kF64: { double v; RITSU_RETURN_IF_ERROR(c.Get(&v, key.c_str())); out->f = v; break; }
    case GgufValueType::kString: return c.String(&out->s, key.c_str());
    case GgufValueType::kArray: {
      uint32_t et;
      uint64_t n;
      RITSU_RETURN_IF_ERROR(c.Get(&et, key.c_str()));
      RITSU_RETURN_IF_ERROR(c.Get(&n, key.c_str()));
      if (et > static_cast<uint32_t>(GgufValueType::kF64)) {
        return Status::Corruption(fmt::format("key {}: array element type {} is not a GGUF value type", key, et));
      }
      if (depth > 0 && et == static_cast<uint32_t>(GgufValueType::kArray)) {
        return Status::Corruption(fmt::format("key {}: arrays of arrays are not read by ritsu", key));
      }
      // Each element takes at least 1 byte (8 for a string's length); the cap keeps a corrupt
      // count from allocating gigabytes of values (real vocabularies hold ~150k-260k entries).
      const uint64_t min_size = et == static_cast<uint32_t>(GgufValueType::kString) ? 8 : 1;
      if (n > c.remaining() / min_size || n > (uint64_t{1} << 24)) {
        return Status::Corruption(fmt::format("key {}: array of {} elements is longer than the file allows", key, n));
      }
      out->elem_type = static_cast<GgufValueType>(et);
      out->array.resize(n);
      for (auto& e : out->array) RITSU_RETURN_IF_ERROR(ReadValue(c, out->elem_type, key, &e, depth + 1));
      break;
    }
    default:
      return Status::Corruption(fmt::format("key {}: value type {} is not a GGUF value type", key,
                                            static_cast<uint32_t>(type)));
  }
  return Status::Ok();
}

}  // namespace

Result<GgufFile> GgufFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(fmt::format("cannot open GGUF file {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size < 24) {
    ::close(fd);
    return Status::Corruption(fmt::format("{}: {} bytes is too short for a GGUF header", path, st.st_size));
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<size_t>(st.st_size);
  void* p = mmap(nullptr, map->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) return Status::IOError(fmt::format("mmap {}: {}", path, std::strerror(errno)));
  map->data = static_cast<const uint8_t*>(p);
  map->mapped = true;
  return Parse(path, std::move(map));
}

Result<GgufFile> GgufFile::FromBuffer(const std::string& name, std::string_view bytes) {
  auto map = std::make_shared<Mapping>();
  map->owned.assign(bytes.begin(), bytes.end());
  map->data = map->owned.data();
  map->size = map->owned.size();
  if (map->size < 24) {
    return Status::Corruption(fmt::format("{}: {} bytes is too short for a GGUF header", name, map->size));
  }
  return Parse(name, std::move(map));
}

Result<GgufFile> GgufFile::Parse(const std::string& path, std::shared_ptr<Mapping> map) {
  GgufFile g;
  g.path_ = path;
  g.size_ = map->size;
  g.map_ = std::move(map);

  Cursor c(g.path_, g.map_->data, g.size_);
  char magic[4];
  RITSU_RETURN_IF_ERROR(c.Bytes(magic, 4, "magic"));
  if (std::memcmp(magic, "GGUF", 4) != 0) {
    return Status::Corruption(fmt::format("{}: not a GGUF file (magic is not \"GGUF\")", path));
  }
  RITSU_RETURN_IF_ERROR(c.Get(&g.version_, "version"));
  if (g.version_ != 2 && g.version_ != 3) {
    return Status::Corruption(fmt::format("{}: GGUF version {} (this reader handles 2 and 3)", path, g.version_));
  }
  uint64_t n_tensors, n_kv;
  RITSU_RETURN_IF_ERROR(c.Get(&n_tensors, "tensor count"));
  RITSU_RETURN_IF_ERROR(c.Get(&n_kv, "metadata count"));
  if (n_kv > c.remaining() / 13 || n_tensors > c.remaining() / 29) {  // smallest entries: 13 / 29 bytes
    return Status::Corruption(fmt::format("{}: {} metadata entries / {} tensors cannot fit in {} bytes", path,
                                          n_kv, n_tensors, g.size_));
  }
  g.alignment_ = kGgufDefaultAlignment;
  // A repeated key or tensor name makes the file ambiguous (readers disagree on which one
  // counts; llama.cpp refuses it), so it is refused here too rather than first-one-wins.
  std::unordered_set<std::string> keys_seen, names_seen;
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    uint32_t type;
    RITSU_RETURN_IF_ERROR(c.String(&key, "metadata key"));
    if (!keys_seen.insert(key).second) {
      return Status::Corruption(fmt::format("{}: metadata key {} appears more than once", path, key));
    }
    RITSU_RETURN_IF_ERROR(c.Get(&type, key.c_str()));
    GgufValue v;
    Status s = ReadValue(c, static_cast<GgufValueType>(type), key, &v, 0);
    if (!s.ok()) return s.Annotate(path);
    if (key == "general.alignment") {
      if (v.type != GgufValueType::kU32 || v.u == 0 || (v.u & (v.u - 1)) != 0) {
        return Status::Corruption(fmt::format("{}: general.alignment must be a u32 power of two", path));
      }
      g.alignment_ = v.u;
    }
    g.kv_.emplace_back(std::move(key), std::move(v));
  }
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    RITSU_RETURN_IF_ERROR(c.String(&t.name, "tensor name"));
    const std::string where = fmt::format("{}: tensor {} ({})", path, k, t.name);
    if (!names_seen.insert(t.name).second) {
      return Status::Corruption(fmt::format("{}: tensor name {} appears more than once", where, t.name));
    }
    uint32_t nd;
    RITSU_RETURN_IF_ERROR(c.Get(&nd, "n_dims"));
    if (nd == 0 || nd > 4) return Status::Corruption(fmt::format("{}: {} dimensions (1 to 4 allowed)", where, nd));
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t ne;
      RITSU_RETURN_IF_ERROR(c.Get(&ne, "ne"));
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Status::Corruption(fmt::format("{}: dimension {} = {} is not plausible", where, d, ne));
      }
      t.ne.push_back(static_cast<int64_t>(ne));
    }
    const auto elems = CheckedElements(t.ne);
    if (!elems) {
      return Status::Corruption(fmt::format("{}: {} dimensions whose product overflows 64 bits", where, nd));
    }
    uint32_t type;
    RITSU_RETURN_IF_ERROR(c.Get(&type, "tensor type"));
    const auto traits = FindGgmlType(type);
    if (!traits) {
      return Status::Corruption(fmt::format("{}: ggml type {} is not one ritsu reads (f32, f16, bf16, q8_0, "
                                            "q5_0, q4_K, q6_K)", where, type));
    }
    t.type = traits->type;
    if (t.ne[0] % traits->block_elems != 0) {
      return Status::Corruption(fmt::format("{}: row length {} is not a multiple of {}'s block of {}", where,
                                            t.ne[0], traits->name, traits->block_elems));
    }
    RITSU_RETURN_IF_ERROR(c.Get(&t.offset, "tensor offset"));
    const auto bytes = CheckedMul<uint64_t>(static_cast<uint64_t>(*elems / traits->block_elems), traits->block_bytes);
    if (!bytes) {
      return Status::Corruption(fmt::format("{}: {} elements of {} overflow a 64-bit byte count", where, *elems,
                                            traits->name));
    }
    t.bytes = *bytes;
    g.tensors_.push_back(std::move(t));
  }
  g.data_offset_ = (c.pos() + g.alignment_ - 1) / g.alignment_ * g.alignment_;
  for (size_t k = 0; k < g.tensors_.size(); ++k) {
    const auto& t = g.tensors_[k];
    const std::string where = fmt::format("{}: tensor {} ({})", path, k, t.name);
    if (t.offset % g.alignment_ != 0) {
      return Status::Corruption(fmt::format("{}: offset {} is not a multiple of the alignment {}", where,
                                            t.offset, g.alignment_));
    }
    // Compared one term at a time: a corrupt u64 offset must not wrap the sum around.
    if (t.offset > g.size_ || t.bytes > g.size_ || g.data_offset_ + t.offset + t.bytes > g.size_) {
      return Status::Corruption(fmt::format("{}: data [{}, +{}) runs past the end of the file ({} bytes)", where,
                                            g.data_offset_ + t.offset, t.bytes, g.size_));
    }
  }
  return g;
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  for (const auto& [k, v] : kv_) {
    if (k == key) return &v;
  }
  return nullptr;
}

const GgufTensorInfo* GgufFile::FindTensor(const std::string& name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const uint8_t* GgufFile::TensorData(const GgufTensorInfo& t) const {
  return map_->data + data_offset_ + t.offset;
}

std::vector<float> GgufFile::Dequantize(const GgufTensorInfo& t) const {
  std::vector<float> out(static_cast<size_t>(t.Elements()));
  DequantizeRow(t.type, TensorData(t), t.Elements(), out.data());
  return out;
}

}  // namespace ritsu::merge
