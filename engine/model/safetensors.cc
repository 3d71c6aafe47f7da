#include "engine/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/checked_math.h"

namespace ritsu::engine {

namespace fs = std::filesystem;
using nlohmann::json;

// A read-only mmap of a whole file; unmapped on destruction.
class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::NotFound(path + ": " + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return Status::IOError(path + ": fstat: " + std::strerror(errno));
    }
    auto f = std::unique_ptr<MappedFile>(new MappedFile());
    f->path_ = path;
    f->size_ = static_cast<size_t>(st.st_size);
    if (f->size_ > 0) {
      void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return Status::IOError(path + ": mmap: " + std::strerror(errno));
      }
      f->data_ = static_cast<const uint8_t*>(p);
      f->mapped_ = true;
    }
    ::close(fd);
    return f;
  }
  // An in-memory copy standing in for a file (Checkpoint::OpenBuffer: fuzzing, tests).
  static std::unique_ptr<MappedFile> FromBytes(const std::string& name, std::string_view bytes) {
    auto f = std::unique_ptr<MappedFile>(new MappedFile());
    f->path_ = name;
    f->owned_.assign(bytes.begin(), bytes.end());
    f->data_ = f->owned_.data();
    f->size_ = f->owned_.size();
    return f;
  }
  ~MappedFile() {
    if (data_ && mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  std::vector<uint8_t> owned_;  // FromBytes only
  bool mapped_ = false;         // data_ is an mmap to release
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

static std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string TensorView::Describe() const {
  return name + " " + DTypeName(dtype) + " " + ShapeString(shape);
}

Checkpoint::~Checkpoint() = default;

Status Checkpoint::AddFile(const std::string& path) {
  RITSU_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  return AddMapped(std::move(file));
}

Status Checkpoint::AddMapped(std::unique_ptr<MappedFile> file) {
  const std::string path = file->path();
  const size_t size = file->size();
  if (size < 8) return Status::Corruption(path + ": file too short for a safetensors header (" + std::to_string(size) + " bytes)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file->data(), 8);  // little-endian host (x86-64 / aarch64)
  if (header_len > size - 8) {
    return Status::Corruption(path + ": header length " + std::to_string(header_len) +
                              " exceeds the file size " + std::to_string(size) + " (truncated file?)");
  }
  json header = json::parse(file->data() + 8, file->data() + 8 + header_len, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return Status::Corruption(path + ": safetensors header is not a JSON object");
  }
  const uint8_t* buffer = file->data() + 8 + header_len;
  const uint64_t buffer_len = size - 8 - header_len;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) return Status::Corruption(path + ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (m->is_string() && metadata_.find(m.key()) == metadata_.end()) metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const json& e = *it;
    auto bad = [&](const std::string& why) { return Status::Corruption(path + ": tensor " + name + ": " + why); };
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets")) {
      return bad("entry needs dtype, shape and data_offsets");
    }
    TensorView v;
    v.name = name;
    v.file = path;
    if (!e["dtype"].is_string() || !ParseDType(e["dtype"].get<std::string>(), &v.dtype)) {
      return bad("unsupported dtype " + e["dtype"].dump());
    }
    if (!e["shape"].is_array()) return bad("shape is not an array");
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned()) return bad("shape " + e["shape"].dump() + " has a non-integer or negative dimension");
      if (d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return bad("shape " + e["shape"].dump() + " has a dimension above 2^63-1");
      }
      v.shape.push_back(d.get<int64_t>());
    }
    const json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      return bad("data_offsets must be [begin, end]");
    }
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) return bad("data_offsets begin > end");
    if (end > buffer_len) {
      return bad("data ends at byte " + std::to_string(end) + " but the file holds only " +
                 std::to_string(buffer_len) + " data bytes (truncated file?)");
    }
    // Checked: unchecked, [2^63] x F32 wraps to 0 bytes and an empty range would "match".
    const auto checked = CheckedByteSize(v.shape, DTypeSize(v.dtype));
    if (!checked) {
      return bad("shape " + ShapeString(v.shape) + " x " + DTypeName(v.dtype) + " overflows a 64-bit byte count");
    }
    const uint64_t expected = *checked;
    if (end - begin != expected) {
      return bad("shape " + ShapeString(v.shape) + " x " + DTypeName(v.dtype) + " needs " +
                 std::to_string(expected) + " bytes, data_offsets give " + std::to_string(end - begin));
    }
    v.data = buffer + begin;
    v.nbytes = end - begin;
    if (tensors_.count(name)) return bad("tensor appears in more than one file");
    tensors_.emplace(name, std::move(v));
  }
  files_.push_back(std::move(file));
  return Status::Ok();
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::OpenFile(const std::string& path) {
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
  ck->source_ = path;
  RITSU_RETURN_IF_ERROR(ck->AddFile(path));
  return ck;
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::OpenBuffer(const std::string& name, std::string_view bytes) {
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
  ck->source_ = name;
  RITSU_RETURN_IF_ERROR(ck->AddMapped(MappedFile::FromBytes(name, bytes)));
  return ck;
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::OpenDir(const std::string& dir) {
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
  ck->source_ = dir;
  if (!fs::exists(index)) {
    if (!fs::exists(single)) {
      return Status::NotFound(dir + ": neither model.safetensors nor model.safetensors.index.json found");
    }
    RITSU_RETURN_IF_ERROR(ck->AddFile(single.string()));
    return ck;
  }
  std::ifstream in(index);
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    return Status::Corruption(index.string() + ": not a JSON object with a weight_map");
  }
  std::map<std::string, std::vector<std::string>> by_shard;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it->is_string()) return Status::Corruption(index.string() + ": weight_map[" + it.key() + "] is not a file name");
    by_shard[it->get<std::string>()].push_back(it.key());
  }
  for (const auto& [shard, names] : by_shard) {
    const fs::path p = fs::path(dir) / shard;
    if (shard.find('/') != std::string::npos) return Status::Corruption(index.string() + ": shard name " + shard + " has a path separator");
    RITSU_RETURN_IF_ERROR(ck->AddFile(p.string()).Annotate("shard named in " + index.string()));
    for (const auto& n : names) {
      auto t = ck->tensors_.find(n);
      if (t == ck->tensors_.end() || t->second.file != p.string()) {
        return Status::Corruption(index.string() + ": tensor " + n + " is mapped to " + shard + " but that shard does not hold it");
      }
    }
  }
  return ck;
}

const TensorView* Checkpoint::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Result<const TensorView*> Checkpoint::Get(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  const TensorView* v = Find(name);
  if (!v) return Status::NotFound(source_ + ": tensor " + name + " is missing");
  if (!expected_shape.empty() && v->shape != expected_shape) {
    return Status::InvalidArgument(v->file + ": tensor " + name + " has shape " + ShapeString(v->shape) +
                                   ", the config expects " + ShapeString(expected_shape));
  }
  return v;
}

Result<std::vector<float>> Checkpoint::ReadFloat(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  RITSU_ASSIGN_OR_RETURN(const TensorView* v, Get(name, expected_shape));
  if (v->dtype != DType::kF32 && v->dtype != DType::kF16 && v->dtype != DType::kBF16) {
    return Status::InvalidArgument(v->file + ": tensor " + name + " has dtype " + DTypeName(v->dtype) + ", expected F32, F16 or BF16");
  }
  std::vector<float> out(static_cast<size_t>(v->numel()));
  ConvertToFloat(v->dtype, v->data, out.data(), out.size());
  return out;
}

TensorData TensorData::FromFloat(std::string name, DType dtype, std::vector<int64_t> shape, const std::vector<float>& values) {
  TensorData t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * DTypeSize(dtype));
  ConvertFromFloat(dtype, values.data(), t.bytes.data(), values.size());
  return t;
}

uint64_t TensorSource::nbytes() const {
  // Only called on sources CheckSourceSizes accepted; 0 marks an impossible shape.
  return CheckedByteSize(shape, DTypeSize(dtype)).value_or(0);
}

// A writer must never produce a file its own reader refuses: every shape has a byte size that
// fits, and the data offsets do not wrap.
static Status CheckSourceSizes(const std::string& where, const std::vector<TensorSource>& tensors) {
  uint64_t total = 0;
  for (const auto& t : tensors) {
    const auto b = CheckedByteSize(t.shape, DTypeSize(t.dtype));
    const auto sum = b ? CheckedAdd<uint64_t>(total, *b) : std::nullopt;
    if (!sum) {
      return Status::InvalidArgument("writing " + where + ": tensor " + t.name + " shape " + ShapeString(t.shape) +
                                     " has a negative dimension or overflows a 64-bit byte count");
    }
    total = *sum;
  }
  return Status::Ok();
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorSource>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  RITSU_RETURN_IF_ERROR(CheckSourceSizes(path, tensors));
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", DTypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');  // the buffer starts 8-byte aligned, as the reference writer does
  RITSU_ASSIGN_OR_RETURN(AtomicFileWriter out, AtomicFileWriter::Create(path));
  const uint64_t len = h.size();
  RITSU_RETURN_IF_ERROR(out.Append(std::string_view(reinterpret_cast<const char*>(&len), 8)));
  RITSU_RETURN_IF_ERROR(out.Append(h));
  std::vector<uint8_t> buf;
  for (const auto& t : tensors) {
    buf.assign(t.nbytes(), 0);
    t.fill(buf.data());
    RITSU_RETURN_IF_ERROR(out.Append(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size())));
  }
  return out.Commit();
}

static std::vector<TensorSource> AsSources(const std::vector<TensorData>& tensors) {
  std::vector<TensorSource> out;
  for (const auto& t : tensors) {
    const TensorData* p = &t;
    out.push_back({t.name, t.dtype, t.shape, [p](uint8_t* dst) { std::memcpy(dst, p->bytes.data(), p->bytes.size()); }});
  }
  return out;
}

static Status CheckSizes(const std::string& where, const std::vector<TensorData>& tensors) {
  for (const auto& t : tensors) {
    const auto n = CheckedByteSize(t.shape, DTypeSize(t.dtype));
    if (!n || *n != t.bytes.size()) {
      return Status::InvalidArgument("writing " + where + ": tensor " + t.name + " shape " + ShapeString(t.shape) +
                                     " does not match its " + std::to_string(t.bytes.size()) + " bytes");
    }
  }
  return Status::Ok();
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorData>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  RITSU_RETURN_IF_ERROR(CheckSizes(path, tensors));
  return WriteSafetensors(path, AsSources(tensors), metadata);
}

static std::string ShardName(size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i, n);
  return buf;
}

Status WriteCheckpointDir(const std::string& dir, const std::vector<TensorSource>& tensors, uint64_t max_shard_bytes,
                          const std::map<std::string, std::string>& metadata) {
  RITSU_RETURN_IF_ERROR(CheckSourceSizes(dir, tensors));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.nbytes();
  if (total <= max_shard_bytes) return WriteSafetensors((fs::path(dir) / "model.safetensors").string(), tensors, metadata);
  // Greedy packing in order; a tensor larger than the limit gets a shard of its own.
  std::vector<std::vector<size_t>> shards(1);
  uint64_t cur = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (cur > 0 && cur + tensors[i].nbytes() > max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(i);
    cur += tensors[i].nbytes();
  }
  json weight_map = json::object();
  for (size_t s = 0; s < shards.size(); ++s) {
    std::vector<TensorSource> part;
    const std::string name = ShardName(s + 1, shards.size());
    for (size_t i : shards[s]) {
      part.push_back(tensors[i]);
      weight_map[tensors[i].name] = name;
    }
    RITSU_RETURN_IF_ERROR(WriteSafetensors((fs::path(dir) / name).string(), part, metadata));
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  return WriteFileAtomic((fs::path(dir) / "model.safetensors.index.json").string(), index.dump(2) + "\n");
}

Status WriteCheckpointDir(const std::string& dir, const std::vector<TensorData>& tensors, uint64_t max_shard_bytes,
                          const std::map<std::string, std::string>& metadata) {
  RITSU_RETURN_IF_ERROR(CheckSizes(dir, tensors));
  return WriteCheckpointDir(dir, AsSources(tensors), max_shard_bytes, metadata);
}

}  // namespace ritsu::engine
