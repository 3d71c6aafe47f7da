// GGUF writer/reader and the HF -> GGUF export: header bytes, every metadata value type,
// alignment of the tensor data, corrupt files refused with the field named, and exports of
// tiny Qwen2/Qwen3 models whose metadata, tensor table (names, ggml dimension order, recipe
// types) and every decoded element are checked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "engine/merge/gguf_export.h"
#include "engine/merge/gguf_reader.h"
#include "engine/merge/gguf_verify.h"
#include "engine/merge/gguf_writer.h"
#include "engine/merge/quant_recipe.h"
#include "engine/merge/quantize.h"
#include "engine/merge/tests/tiny_model.h"

namespace ritsu::merge {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void WriteAll(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<long>(b.size()));
}

// Integers whose every 32-block has absmax 127: Q8_0's scale is exactly 1, so they decode exactly.
float SampleValue(int i) { return i % 32 == 0 ? 127.0f : static_cast<float>(i % 17) - 8; }

// Writes two tensors (f32 [3] and q8_0 [64, 2]) and one key of each value type.
void WriteSample(const std::string& path, uint32_t alignment = 32) {
  GgufWriter w(alignment);
  w.Set("general.architecture", GgufValue::Str("qwen3"));
  w.Set("test.u32", GgufValue::U32(7));
  w.Set("test.i32", GgufValue::I32(-5));
  w.Set("test.f32", GgufValue::F32(0.25f));
  w.Set("test.bool", GgufValue::Bool(true));
  w.Set("test.strings", GgufValue::StrArray({"a", "", "\xE3\x81\x82"}));
  w.Set("test.ints", GgufValue::I32Array({1, -2, 3}));
  ASSERT_TRUE(w.AddTensor("norm.weight", {3}, GgmlType::kF32).ok());
  ASSERT_TRUE(w.AddTensor("blk.0.attn_q.weight", {64, 2}, GgmlType::kQ8_0).ok());
  ASSERT_TRUE(w.Begin(path).ok());
  const float norm[3] = {1, 2, 3};
  ASSERT_TRUE(w.WriteTensor(0, reinterpret_cast<const uint8_t*>(norm), 12).ok());
  std::vector<float> q(128);
  for (int i = 0; i < 128; ++i) q[i] = SampleValue(i);
  std::vector<uint8_t> enc(RowBytes(GgmlType::kQ8_0, 128));
  QuantizeRow(GgmlType::kQ8_0, q.data(), 128, enc.data());
  ASSERT_TRUE(w.AppendTensorData(enc.data(), 34).ok());  // streamed in two parts
  ASSERT_TRUE(w.AppendTensorData(enc.data() + 34, enc.size() - 34).ok());
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(fs::file_size(path), w.FileSize());
}

TEST(GgufFileTest, HeaderBytesFollowTheSpec) {
  TempDir tmp;
  WriteSample(tmp / "a.gguf");
  const auto b = ReadAll(tmp / "a.gguf");
  ASSERT_GE(b.size(), 24u);
  EXPECT_EQ(std::string(b.begin(), b.begin() + 4), "GGUF");
  uint32_t version;
  uint64_t n_tensors, n_kv;
  std::memcpy(&version, &b[4], 4);
  std::memcpy(&n_tensors, &b[8], 8);
  std::memcpy(&n_kv, &b[16], 8);
  EXPECT_EQ(version, 3u);
  EXPECT_EQ(n_tensors, 2u);
  EXPECT_EQ(n_kv, 7u);
  // First key: u64 length 20, "general.architecture", u32 type 8 (string), u64 5, "qwen3".
  uint64_t klen;
  std::memcpy(&klen, &b[24], 8);
  EXPECT_EQ(klen, 20u);
  EXPECT_EQ(std::string(b.begin() + 32, b.begin() + 52), "general.architecture");
  uint32_t type;
  std::memcpy(&type, &b[52], 4);
  EXPECT_EQ(type, 8u);
}

TEST(GgufFileTest, RoundTripsMetadataAndTensors) {
  TempDir tmp;
  WriteSample(tmp / "a.gguf");
  auto g = GgufFile::Open(tmp / "a.gguf");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(g->alignment(), 32u);
  EXPECT_EQ(g->data_offset() % 32, 0u);
  EXPECT_EQ(g->Find("test.u32")->u, 7u);
  EXPECT_EQ(g->Find("test.i32")->i, -5);
  EXPECT_EQ(g->Find("test.f32")->f, 0.25);
  EXPECT_EQ(g->Find("test.bool")->u, 1u);
  const GgufValue* strs = g->Find("test.strings");
  ASSERT_EQ(strs->elem_type, GgufValueType::kString);
  ASSERT_EQ(strs->array.size(), 3u);
  EXPECT_EQ(strs->array[2].s, "\xE3\x81\x82");
  EXPECT_EQ(strs->array[1].s, "");
  EXPECT_EQ(g->Find("test.ints")->array[1].i, -2);
  EXPECT_EQ(g->Find("missing"), nullptr);
  ASSERT_EQ(g->tensors().size(), 2u);
  const auto& q = g->tensors()[1];
  EXPECT_EQ(q.name, "blk.0.attn_q.weight");
  EXPECT_EQ(q.ne, (std::vector<int64_t>{64, 2}));
  EXPECT_EQ(q.type, GgmlType::kQ8_0);
  EXPECT_EQ(q.offset % 32, 0u);
  EXPECT_EQ(q.offset, 32u);  // 12 bytes of f32, padded to 32
  EXPECT_EQ(g->Dequantize(g->tensors()[0]), (std::vector<float>{1, 2, 3}));
  const auto v = g->Dequantize(q);
  for (int i = 0; i < 128; ++i) ASSERT_EQ(v[i], SampleValue(i)) << i;
}

TEST(GgufFileTest, CustomAlignmentIsRecordedAndHonoured) {
  TempDir tmp;
  WriteSample(tmp / "a.gguf", 64);
  auto g = GgufFile::Open(tmp / "a.gguf");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->alignment(), 64u);
  EXPECT_EQ(g->Find("general.alignment")->u, 64u);
  EXPECT_EQ(g->data_offset() % 64, 0u);
  EXPECT_EQ(g->tensors()[1].offset, 64u);
}

TEST(GgufFileTest, CorruptFilesAreRefusedNamingTheProblem) {
  TempDir tmp;
  WriteSample(tmp / "a.gguf");
  const auto good = ReadAll(tmp / "a.gguf");

  auto bad = good;
  bad[0] = 'X';
  WriteAll(tmp / "magic.gguf", bad);
  auto r = GgufFile::Open(tmp / "magic.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("magic.gguf: not a GGUF file"));

  WriteAll(tmp / "short.gguf", std::vector<uint8_t>(good.begin(), good.begin() + 100));
  r = GgufFile::Open(tmp / "short.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("short.gguf"));

  WriteAll(tmp / "cut.gguf", std::vector<uint8_t>(good.begin(), good.end() - 40));
  r = GgufFile::Open(tmp / "cut.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("blk.0.attn_q.weight"));
  EXPECT_THAT(r.status().message(), HasSubstr("past the end"));

  // The last tensor-table field is blk.0.attn_q.weight's u64 offset, just before the padding.
  auto g = GgufFile::Open(tmp / "a.gguf");
  ASSERT_TRUE(g.ok());
  size_t table_end = 0;
  {
    // Locate the offset field: it holds 32 and is followed by zero padding up to data_offset.
    for (size_t p = g->data_offset() - 8; p > 24; --p) {
      uint64_t v;
      std::memcpy(&v, &good[p], 8);
      if (v == 32) {
        table_end = p;
        break;
      }
    }
  }
  ASSERT_GT(table_end, 0u);
  bad = good;
  bad[table_end] = 33;
  WriteAll(tmp / "misaligned.gguf", bad);
  r = GgufFile::Open(tmp / "misaligned.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("not a multiple of the alignment"));

  bad = good;
  bad[table_end - 4] = 2;  // ggml type 2 = q4_0, not one ritsu reads
  WriteAll(tmp / "type.gguf", bad);
  r = GgufFile::Open(tmp / "type.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("ggml type 2"));

  r = GgufFile::Open(tmp / "absent.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("absent.gguf"));
}

// Random byte corruption anywhere in the header, metadata or tensor table: Open either reports
// an error or returns a file whose tensors all lie inside it; it never crashes or over-reads
// (run under ASan/valgrind for the latter). 800 seeded mutations of the header.
TEST(GgufFileTest, SurvivesRandomCorruption) {
  TempDir tmp;
  WriteSample(tmp / "a.gguf");
  const auto good = ReadAll(tmp / "a.gguf");
  auto g0 = GgufFile::Open(tmp / "a.gguf");
  ASSERT_TRUE(g0.ok());
  const size_t header = g0->data_offset();
  std::mt19937 rng(1234);
  int refused = 0;
  for (int trial = 0; trial < 800; ++trial) {
    auto bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bad[rng() % header] = static_cast<uint8_t>(rng());
    WriteAll(tmp / "fuzz.gguf", bad);
    auto g = GgufFile::Open(tmp / "fuzz.gguf");
    if (!g.ok()) {
      ++refused;
      continue;
    }
    for (const auto& t : g->tensors()) {
      ASSERT_LE(g->data_offset() + t.offset + t.bytes, g->file_size()) << "trial " << trial;
    }
  }
  EXPECT_GT(refused, 30);  // the mutations do hit the checks
}

// Hand-made GGUF bytes (the writer refuses what these tests need): f32 tensors only.
class RawGguf {
 public:
  RawGguf& Key(const std::string& k, uint32_t v) {
    kv_.push_back({k, v});
    return *this;
  }
  RawGguf& Tensor(const std::string& name, std::vector<uint64_t> ne, uint64_t offset) {
    tensors_.push_back({name, std::move(ne), offset});
    return *this;
  }
  std::vector<uint8_t> Bytes(size_t data_bytes) const {
    std::vector<uint8_t> b;
    auto put = [&](const void* p, size_t n) { b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n); };
    auto u32 = [&](uint32_t v) { put(&v, 4); };
    auto u64 = [&](uint64_t v) { put(&v, 8); };
    auto str = [&](const std::string& s) { u64(s.size()); put(s.data(), s.size()); };
    put("GGUF", 4);
    u32(3);
    u64(tensors_.size());
    u64(kv_.size());
    for (const auto& [k, v] : kv_) {
      str(k);
      u32(static_cast<uint32_t>(GgufValueType::kU32));
      u32(v);
    }
    for (const auto& t : tensors_) {
      str(t.name);
      u32(static_cast<uint32_t>(t.ne.size()));
      for (uint64_t d : t.ne) u64(d);
      u32(static_cast<uint32_t>(GgmlType::kF32));
      u64(t.offset);
    }
    while (b.size() % 32) b.push_back(0);
    b.resize(b.size() + data_bytes, 0);
    return b;
  }

 private:
  struct T {
    std::string name;
    std::vector<uint64_t> ne;
    uint64_t offset;
  };
  std::vector<std::pair<std::string, uint32_t>> kv_;
  std::vector<T> tensors_;
};

Result<GgufFile> OpenBytes(const TempDir& tmp, const std::string& name, const std::vector<uint8_t>& bytes) {
  WriteAll(tmp / name, bytes);
  return GgufFile::Open(tmp / name);
}

TEST(GgufFileTest, DuplicateTensorNamesAndKeysAreRefused) {
  TempDir tmp;
  auto ok = OpenBytes(tmp, "ok.gguf", RawGguf().Key("a.b", 1).Tensor("x", {4}, 0).Tensor("y", {4}, 32).Bytes(64));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();  // the builder itself makes valid files

  auto r = OpenBytes(tmp, "dup_tensor.gguf", RawGguf().Tensor("x", {4}, 0).Tensor("x", {4}, 32).Bytes(64));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("dup_tensor.gguf"));
  EXPECT_THAT(r.status().message(), HasSubstr("tensor name x appears more than once"));

  r = OpenBytes(tmp, "dup_key.gguf", RawGguf().Key("a.b", 1).Key("a.b", 2).Tensor("x", {4}, 0).Bytes(32));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("dup_key.gguf"));
  EXPECT_THAT(r.status().message(), HasSubstr("metadata key a.b appears more than once"));

  // The same check from a buffer (the fuzz target's entry point).
  const auto bytes = RawGguf().Tensor("x", {4}, 0).Tensor("x", {4}, 32).Bytes(64);
  EXPECT_FALSE(GgufFile::FromBuffer("mem", std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())).ok());
}

TEST(GgufFileTest, DimensionsWhoseProductOverflowsAreRefused) {
  TempDir tmp;
  // 2^32 x 2^32 elements: each dimension is plausible, the product is not.
  auto r = OpenBytes(tmp, "huge.gguf", RawGguf().Tensor("w", {uint64_t{1} << 32, uint64_t{1} << 32}, 0).Bytes(32));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("huge.gguf: tensor 0 (w)"));
  EXPECT_THAT(r.status().message(), HasSubstr("overflow"));
  // 2^62 f32 elements fit in int64 but their 2^64 bytes do not fit in 64 bits.
  r = OpenBytes(tmp, "bytes.gguf", RawGguf().Tensor("w", {uint64_t{1} << 62}, 0).Bytes(32));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("bytes.gguf: tensor 0 (w)"));
  EXPECT_THAT(r.status().message(), HasSubstr("overflow"));
}

TEST(GgufFileTest, WriterRefusesDuplicateAndOverflowingTensors) {
  GgufWriter w;
  ASSERT_TRUE(w.AddTensor("x", {4}, GgmlType::kF32).ok());
  Status s = w.AddTensor("x", {4}, GgmlType::kF32);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("tensor x is declared twice"));
  s = w.AddTensor("big", {int64_t{1} << 40, int64_t{1} << 40}, GgmlType::kF32);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("tensor big"));
  s = w.AddTensor("neg", {4, -1}, GgmlType::kF32);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("tensor neg"));
}

TEST(GgufFileTest, WriterRefusesRowsThatAreNotWholeBlocks) {
  GgufWriter w;
  Status s = w.AddTensor("blk.0.attn_q.weight", {100, 2}, GgmlType::kQ4_K);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("not a multiple"));
}

// llama.cpp's use_more_bits for a 36-layer model (Qwen3-4B/8B): layers 0-3, 31-35, and every
// third layer from 6: 6, 9, ..., 30 — 18 of 36.
TEST(QuantRecipeTest, UseMoreBitsMatchesLlamaCppRule) {
  std::vector<int> got;
  for (int i = 0; i < 36; ++i) {
    if (UseMoreBits(i, 36)) got.push_back(i);
  }
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 31, 32, 33, 34, 35}));
}

TEST(QuantRecipeTest, Q4KMTypesPerTensor) {
  RecipeContext ctx{GgufFileType::kMostlyQ4_K_M, 36, true};
  EXPECT_EQ(ChooseTensorType(ctx, "output.weight", {4096, 151936}), GgmlType::kQ6_K);
  EXPECT_EQ(ChooseTensorType(ctx, "token_embd.weight", {4096, 151936}), GgmlType::kQ4_K);
  EXPECT_EQ(ChooseTensorType(ctx, "blk.3.attn_v.weight", {4096, 1024}), GgmlType::kQ6_K);
  EXPECT_EQ(ChooseTensorType(ctx, "blk.4.attn_v.weight", {4096, 1024}), GgmlType::kQ4_K);
  EXPECT_EQ(ChooseTensorType(ctx, "blk.6.ffn_down.weight", {12288, 4096}), GgmlType::kQ6_K);
  EXPECT_EQ(ChooseTensorType(ctx, "blk.7.ffn_down.weight", {12288, 4096}), GgmlType::kQ4_K);
  EXPECT_EQ(ChooseTensorType(ctx, "blk.0.attn_q.weight", {4096, 4096}), GgmlType::kQ4_K);
  EXPECT_EQ(ChooseTensorType(ctx, "blk.0.attn_norm.weight", {4096}), GgmlType::kF32);
  EXPECT_EQ(ChooseTensorType(ctx, "blk.0.attn_q.bias", {4096}), GgmlType::kF32);
  // Tied embeddings: token_embd plays output's role.
  RecipeContext tied{GgufFileType::kMostlyQ4_K_M, 28, false};
  EXPECT_EQ(ChooseTensorType(tied, "token_embd.weight", {1024, 151936}), GgmlType::kQ6_K);
  // Qwen2.5-0.5B: hidden 896 is not a multiple of 256 -> llama.cpp's fallbacks.
  RecipeContext q05{GgufFileType::kMostlyQ4_K_M, 24, false};
  EXPECT_EQ(ChooseTensorType(q05, "token_embd.weight", {896, 151936}), GgmlType::kQ8_0);
  EXPECT_EQ(ChooseTensorType(q05, "blk.5.attn_q.weight", {896, 896}), GgmlType::kQ5_0);
  EXPECT_EQ(ChooseTensorType(q05, "blk.0.attn_v.weight", {896, 128}), GgmlType::kQ8_0);
  EXPECT_EQ(ChooseTensorType(q05, "blk.0.ffn_down.weight", {4864, 896}), GgmlType::kQ6_K);  // 4864 = 19*256
  EXPECT_EQ(ChooseTensorType(q05, "blk.4.ffn_down.weight", {4864, 896}), GgmlType::kQ4_K);  // (4-3)%3 != 2
  // Other file types.
  EXPECT_EQ(ChooseTensorType({GgufFileType::kMostlyQ8_0, 2, true}, "blk.0.attn_q.weight", {64, 64}), GgmlType::kQ8_0);
  EXPECT_EQ(ChooseTensorType({GgufFileType::kMostlyQ8_0, 2, true}, "blk.0.attn_q.weight", {40, 64}), GgmlType::kF16);
  EXPECT_EQ(ChooseTensorType({GgufFileType::kMostlyBF16, 2, true}, "output.weight", {64, 300}), GgmlType::kBF16);
  EXPECT_EQ(ChooseTensorType({GgufFileType::kMostlyF16, 2, true}, "output_norm.weight", {64}), GgmlType::kF32);
}

class ExportTest : public ::testing::Test {
 protected:
  Result<GgufExportResult> Export(const engine::ModelConfig& c, GgufFileType type, const std::string& name) {
    testing::WriteTinyModel(tmp_ / "model", c, engine::DType::kBF16, 21);
    GgufExportOptions o;
    o.model_dir = tmp_ / "model";
    o.output_path = tmp_ / name;
    o.file_type = type;
    o.threads = 2;
    return ExportGguf(o);
  }
  TempDir tmp_;
};

TEST_F(ExportTest, Qwen3Q4KMMetadataTensorTableAndValues) {
  const auto c = testing::TinyQwen3Config();
  auto r = Export(c, GgufFileType::kMostlyQ4_K_M, "m.gguf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LE(r->error.max_error_over_bound, 1.0);
  auto g = GgufFile::Open(tmp_ / "m.gguf");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto str = [&](const char* k) { return g->Find(k) ? g->Find(k)->s : std::string("<missing>"); };
  auto u32 = [&](const char* k) -> int64_t {
    const GgufValue* v = g->Find(k);
    return v && v->type == GgufValueType::kU32 ? static_cast<int64_t>(v->u) : -1;
  };
  EXPECT_EQ(str("general.architecture"), "qwen3");
  EXPECT_EQ(str("general.name"), "model");
  EXPECT_EQ(u32("general.file_type"), 15);
  EXPECT_EQ(u32("general.quantization_version"), 2);
  EXPECT_EQ(u32("qwen3.block_count"), 4);
  EXPECT_EQ(u32("qwen3.context_length"), 2048);
  EXPECT_EQ(u32("qwen3.embedding_length"), 256);
  EXPECT_EQ(u32("qwen3.feed_forward_length"), 512);
  EXPECT_EQ(u32("qwen3.attention.head_count"), 4);
  EXPECT_EQ(u32("qwen3.attention.head_count_kv"), 2);
  EXPECT_EQ(u32("qwen3.attention.key_length"), 64);
  EXPECT_EQ(u32("qwen3.attention.value_length"), 64);
  EXPECT_EQ(g->Find("qwen3.rope.freq_base")->f, 1e6);
  EXPECT_EQ(g->Find("qwen3.rope.freq_base")->type, GgufValueType::kF32);
  EXPECT_FLOAT_EQ(static_cast<float>(g->Find("qwen3.attention.layer_norm_rms_epsilon")->f), 1e-6f);
  EXPECT_EQ(str("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(str("tokenizer.ggml.pre"), "qwen2");
  const auto& tokens = g->Find("tokenizer.ggml.tokens")->array;
  const auto& types = g->Find("tokenizer.ggml.token_type")->array;
  ASSERT_EQ(tokens.size(), 300u);
  ASSERT_EQ(types.size(), 300u);
  EXPECT_EQ(tokens[5].s, "t5");
  EXPECT_EQ(types[5].i, 1);     // normal
  EXPECT_EQ(tokens[292].s, "<|im_end|>");
  EXPECT_EQ(types[292].i, 3);   // control
  EXPECT_EQ(tokens[293].s, "<think>");
  EXPECT_EQ(types[293].i, 4);   // user-defined
  EXPECT_EQ(tokens[299].s, "[PAD299]");
  EXPECT_EQ(types[299].i, 5);   // unused padding id
  const auto& merges = g->Find("tokenizer.ggml.merges")->array;
  ASSERT_EQ(merges.size(), 3u);
  EXPECT_EQ(merges[2].s, "t12 t34");
  EXPECT_EQ(u32("tokenizer.ggml.eos_token_id"), 292);      // tokenizer_config eos_token
  EXPECT_EQ(u32("tokenizer.ggml.padding_token_id"), 290);  // tokenizer_config pad_token
  EXPECT_EQ(u32("tokenizer.ggml.bos_token_id"), 290);      // config.json bos_token_id
  EXPECT_EQ(g->Find("tokenizer.ggml.add_bos_token")->u, 0u);
  EXPECT_THAT(str("tokenizer.chat_template"), HasSubstr("<|im_start|>"));

  // Tensor table: llama.cpp names, ggml dimension order, Q4_K_M recipe types. 4 layers:
  // use_more_bits(i, 4) holds for i = 2, 3. Embeddings are tied: token_embd gets Q6_K, no output.
  std::map<std::string, std::pair<std::vector<int64_t>, GgmlType>> want = {
      {"token_embd.weight", {{256, 300}, GgmlType::kQ6_K}},
      {"output_norm.weight", {{256}, GgmlType::kF32}},
  };
  for (int l = 0; l < 4; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const GgmlType more = l >= 2 ? GgmlType::kQ6_K : GgmlType::kQ4_K;
    want[p + "attn_norm.weight"] = {{256}, GgmlType::kF32};
    want[p + "ffn_norm.weight"] = {{256}, GgmlType::kF32};
    want[p + "attn_q.weight"] = {{256, 256}, GgmlType::kQ4_K};
    want[p + "attn_k.weight"] = {{256, 128}, GgmlType::kQ4_K};
    want[p + "attn_v.weight"] = {{256, 128}, more};
    want[p + "attn_output.weight"] = {{256, 256}, GgmlType::kQ4_K};
    want[p + "attn_q_norm.weight"] = {{64}, GgmlType::kF32};
    want[p + "attn_k_norm.weight"] = {{64}, GgmlType::kF32};
    want[p + "ffn_gate.weight"] = {{256, 512}, GgmlType::kQ4_K};
    want[p + "ffn_up.weight"] = {{256, 512}, GgmlType::kQ4_K};
    want[p + "ffn_down.weight"] = {{512, 256}, more};
  }
  ASSERT_EQ(g->tensors().size(), want.size());
  EXPECT_EQ(g->tensors().front().name, "token_embd.weight");
  for (const auto& t : g->tensors()) {
    auto it = want.find(t.name);
    ASSERT_NE(it, want.end()) << "unexpected tensor " << t.name;
    EXPECT_EQ(t.ne, it->second.first) << t.name;
    EXPECT_EQ(t.type, it->second.second) << t.name << " is " << GgmlTypeName(t.type);
    EXPECT_EQ(t.offset % g->alignment(), 0u) << t.name;
  }
  // Every element decoded against the source within its type's bound.
  auto v = VerifyGgufAgainst(*g, tmp_ / "model");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->tensors_checked, want.size());
  EXPECT_LE(v->error.max_error_over_bound, 1.0);
  EXPECT_GT(v->error.max_abs_error, 0.0);
}

TEST_F(ExportTest, Qwen2FallbackTypesBiasesAndUntiedOutput) {
  const auto c = testing::TinyQwen2Config();  // hidden 64: no row is a whole 256-block
  auto r = Export(c, GgufFileType::kMostlyQ4_K_M, "m.gguf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto g = GgufFile::Open(tmp_ / "m.gguf");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->Find("general.architecture")->s, "qwen2");
  EXPECT_EQ(g->Find("qwen2.attention.key_length"), nullptr);  // qwen2: derived from hidden/heads
  EXPECT_EQ(g->FindTensor("output.weight")->type, GgmlType::kQ8_0);      // Q6_K fallback
  EXPECT_EQ(g->FindTensor("token_embd.weight")->type, GgmlType::kQ5_0);  // Q4_K fallback
  EXPECT_EQ(g->FindTensor("blk.0.attn_q.weight")->type, GgmlType::kQ5_0);
  EXPECT_EQ(g->FindTensor("blk.0.attn_v.weight")->type, GgmlType::kQ5_0);  // !use_more_bits(0, 2)
  EXPECT_EQ(g->FindTensor("blk.1.attn_v.weight")->type, GgmlType::kQ8_0);  // use_more_bits(1, 2): Q6_K fallback
  EXPECT_EQ(g->FindTensor("blk.1.ffn_down.weight")->type, GgmlType::kQ8_0);
  EXPECT_EQ(g->FindTensor("blk.1.attn_k.bias")->type, GgmlType::kF32);
  EXPECT_EQ(g->FindTensor("blk.1.attn_k.bias")->ne, (std::vector<int64_t>{32}));
  EXPECT_EQ(g->FindTensor("output.weight")->ne, (std::vector<int64_t>{64, 300}));
  auto v = VerifyGgufAgainst(*g, tmp_ / "model");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
}

TEST_F(ExportTest, F16Bf16Q8_0ExportsVerify) {
  const auto c = testing::TinyQwen2Config();
  for (auto [type, ggml] : {std::pair{GgufFileType::kMostlyF16, GgmlType::kF16},
                            std::pair{GgufFileType::kMostlyBF16, GgmlType::kBF16},
                            std::pair{GgufFileType::kMostlyQ8_0, GgmlType::kQ8_0}}) {
    const std::string name = std::string(GgufFileTypeName(type)) + ".gguf";
    auto r = Export(c, type, name);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto g = GgufFile::Open(tmp_ / name);
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->Find("general.file_type")->u, static_cast<uint64_t>(type));
    EXPECT_EQ(g->FindTensor("blk.0.ffn_up.weight")->type, ggml) << name;
    EXPECT_EQ(g->FindTensor("blk.0.ffn_norm.weight")->type, GgmlType::kF32) << name;
    auto v = VerifyGgufAgainst(*g, tmp_ / "model");
    ASSERT_TRUE(v.ok()) << name << ": " << v.status().ToString();
    if (type == GgufFileType::kMostlyBF16) {
      EXPECT_EQ(v->error.max_abs_error, 0.0);  // bf16 source: exact
    }
  }
}

TEST_F(ExportTest, VerifyCatchesAFlippedByteAndTheWrongModel) {
  const auto c = testing::TinyQwen2Config();
  ASSERT_TRUE(Export(c, GgufFileType::kMostlyQ8_0, "m.gguf").ok());
  std::string target;
  size_t at = 0;
  {
    auto g = GgufFile::Open(tmp_ / "m.gguf");
    ASSERT_TRUE(g.ok());
    const GgufTensorInfo* t = g->FindTensor("blk.1.attn_output.weight");
    at = g->data_offset() + t->offset + 40;  // a code byte of the second Q8_0 block
  }
  auto bytes = ReadAll(tmp_ / "m.gguf");
  bytes[at] ^= 0x40;
  WriteAll(tmp_ / "m.gguf", bytes);
  auto g = GgufFile::Open(tmp_ / "m.gguf");
  ASSERT_TRUE(g.ok());
  auto v = VerifyGgufAgainst(*g, tmp_ / "model");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("blk.1.attn_output.weight"));

  // Another model of the same shape but other weights also fails.
  testing::WriteTinyModel(tmp_ / "other", c, engine::DType::kBF16, 99);
  auto g2 = GgufFile::Open(tmp_ / "m.gguf");
  auto v2 = VerifyGgufAgainst(*g2, tmp_ / "other");
  ASSERT_FALSE(v2.ok());
}

TEST_F(ExportTest, TokenizerLargerThanVocabIsRefused) {
  auto c = testing::TinyQwen2Config();
  c.vocab_size = 200;  // the test tokenizer has ids up to 293
  auto r = Export(c, GgufFileType::kMostlyF16, "m.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("vocab_size is 200"));
  EXPECT_THAT(r.status().message(), HasSubstr("tokenizer.json"));
}

}  // namespace
}  // namespace ritsu::merge
