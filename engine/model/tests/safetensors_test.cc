#include "engine/model/safetensors.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/model/tests/test_dir.h"

namespace ritsu::engine {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

std::vector<float> Ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * (static_cast<float>(i) - static_cast<float>(n) / 3.0f) + 0.1f;
  return v;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(Safetensors, RoundTripsEveryFloatDtypeWithMetadata) {
  TempDir dir;
  const auto a = Ramp(6, 0.37f), b = Ramp(5, -1.3f), c = Ramp(8, 1e-3f);
  std::vector<TensorData> tensors = {TensorData::FromFloat("a", DType::kF32, {2, 3}, a),
                                     TensorData::FromFloat("b", DType::kBF16, {5}, b),
                                     TensorData::FromFloat("c.weight", DType::kF16, {2, 2, 2}, c)};
  ASSERT_TRUE(WriteSafetensors(dir / "x.safetensors", tensors, {{"format", "pt"}}).ok());
  auto ck = Checkpoint::OpenFile(dir / "x.safetensors");
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  EXPECT_EQ((*ck)->metadata().at("format"), "pt");
  EXPECT_EQ((*ck)->tensors().size(), 3u);
  auto ra = (*ck)->ReadFloat("a", {2, 3});
  ASSERT_TRUE(ra.ok());
  EXPECT_EQ(*ra, a);  // fp32 is exact
  auto rb = (*ck)->ReadFloat("b");
  ASSERT_TRUE(rb.ok());
  // bf16 keeps 8 significant bits: round-to-nearest error <= 2^-8 relative.
  for (size_t i = 0; i < b.size(); ++i) EXPECT_NEAR((*rb)[i], b[i], std::abs(b[i]) * 0x1p-8 + 1e-12) << i;
  auto rc = (*ck)->ReadFloat("c.weight", {2, 2, 2});
  ASSERT_TRUE(rc.ok());
  // fp16 keeps 11 significant bits: round-to-nearest error <= 2^-11 relative (normal values).
  for (size_t i = 0; i < c.size(); ++i) EXPECT_NEAR((*rc)[i], c[i], std::abs(c[i]) * 0x1p-11 + 1e-12) << i;
  EXPECT_EQ((*ck)->Find("b")->dtype, DType::kBF16);
  // Header is padded so the data buffer starts 8-byte aligned.
  const std::string bytes = ReadAll(dir / "x.safetensors");
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ(header_len % 8, 0u);
}

TEST(Safetensors, ShardedDirectoryWithIndexReadsBack) {
  TempDir dir;
  std::vector<TensorData> tensors;
  for (int i = 0; i < 5; ++i) tensors.push_back(TensorData::FromFloat("t" + std::to_string(i), DType::kF32, {16}, Ramp(16, i + 1.0f)));
  // 64 bytes per tensor, 150-byte shards: two tensors per shard, three shards.
  ASSERT_TRUE(WriteCheckpointDir(dir.path(), tensors, 150).ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "model-00001-of-00003.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "model-00003-of-00003.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors"));
  auto index = nlohmann::json::parse(ReadAll(dir / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 5 * 64);
  EXPECT_EQ(index["weight_map"]["t4"], "model-00003-of-00003.safetensors");
  auto ck = Checkpoint::OpenDir(dir.path());
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  for (int i = 0; i < 5; ++i) {
    auto v = (*ck)->ReadFloat("t" + std::to_string(i));
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, Ramp(16, i + 1.0f));
  }
}

TEST(Safetensors, SmallCheckpointIsOneFile) {
  TempDir dir;
  ASSERT_TRUE(WriteCheckpointDir(dir.path(), {TensorData::FromFloat("w", DType::kBF16, {2}, {1.0f, 2.0f})}, 1 << 20).ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "model.safetensors"));
  EXPECT_TRUE(Checkpoint::OpenDir(dir.path()).ok());
}

TEST(Safetensors, TruncatedFileNamesFileAndTensor) {
  TempDir dir;
  ASSERT_TRUE(WriteSafetensors(dir / "x.safetensors", {TensorData::FromFloat("first", DType::kF32, {4}, Ramp(4, 1)),
                                                        TensorData::FromFloat("second", DType::kF32, {4}, Ramp(4, 2))}).ok());
  std::string bytes = ReadAll(dir / "x.safetensors");
  WriteAll(dir / "x.safetensors", bytes.substr(0, bytes.size() - 3));
  auto ck = Checkpoint::OpenFile(dir / "x.safetensors");
  ASSERT_FALSE(ck.ok());
  EXPECT_THAT(ck.status().message(), HasSubstr("x.safetensors"));
  EXPECT_THAT(ck.status().message(), HasSubstr("tensor second"));
  EXPECT_THAT(ck.status().message(), HasSubstr("truncated"));
  // Cut inside the header: the header length itself is out of range.
  WriteAll(dir / "x.safetensors", bytes.substr(0, 20));
  ck = Checkpoint::OpenFile(dir / "x.safetensors");
  ASSERT_FALSE(ck.ok());
  EXPECT_THAT(ck.status().message(), HasSubstr("header length"));
  WriteAll(dir / "x.safetensors", bytes.substr(0, 5));
  EXPECT_FALSE(Checkpoint::OpenFile(dir / "x.safetensors").ok());
}

// Writes a file with a hand-made header (to produce inconsistencies the writer never would).
void WriteRaw(const std::string& path, const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += header;
  bytes.append(data_bytes, '\0');
  WriteAll(path, bytes);
}

TEST(Safetensors, ShapeThatDisagreesWithOffsetsIsRejected) {
  TempDir dir;
  WriteRaw(dir / "bad.safetensors", R"({"w": {"dtype": "BF16", "shape": [3, 4], "data_offsets": [0, 20]}})", 20);
  auto ck = Checkpoint::OpenFile(dir / "bad.safetensors");
  ASSERT_FALSE(ck.ok());
  EXPECT_THAT(ck.status().message(), HasSubstr("tensor w"));
  EXPECT_THAT(ck.status().message(), HasSubstr("needs 24 bytes"));
}

TEST(Safetensors, UnknownDtypeAndBadJsonAreRejected) {
  TempDir dir;
  WriteRaw(dir / "a.safetensors", R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})", 2);
  auto ck = Checkpoint::OpenFile(dir / "a.safetensors");
  ASSERT_FALSE(ck.ok());
  EXPECT_THAT(ck.status().message(), HasSubstr("unsupported dtype"));
  WriteRaw(dir / "b.safetensors", R"({"w": {"dtype": )", 0);
  EXPECT_FALSE(Checkpoint::OpenFile(dir / "b.safetensors").ok());
  WriteRaw(dir / "c.safetensors", R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4);
  EXPECT_FALSE(Checkpoint::OpenFile(dir / "c.safetensors").ok());
}

// Issue 14: [2^63] x F32 is 2^65 bytes, which wraps to 0 in 64 bits; with empty data_offsets the
// unchecked product "matched" and the tensor was accepted.
TEST(Safetensors, ShapeWhoseByteSizeOverflowsIsRejected) {
  TempDir dir;
  WriteRaw(dir / "huge.safetensors",
           R"({"w.weight": {"dtype": "F32", "shape": [9223372036854775808], "data_offsets": [0, 0]}})", 0);
  auto ck = Checkpoint::OpenFile(dir / "huge.safetensors");
  ASSERT_FALSE(ck.ok());
  EXPECT_THAT(ck.status().message(), HasSubstr("huge.safetensors"));
  EXPECT_THAT(ck.status().message(), HasSubstr("tensor w.weight"));
  // Each dimension fits in int64 but the product does not: 2^32 x 2^32 x BF16.
  WriteRaw(dir / "prod.safetensors",
           R"({"w.weight": {"dtype": "BF16", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0);
  ck = Checkpoint::OpenFile(dir / "prod.safetensors");
  ASSERT_FALSE(ck.ok());
  EXPECT_THAT(ck.status().message(), HasSubstr("prod.safetensors: tensor w.weight"));
  EXPECT_THAT(ck.status().message(), HasSubstr("overflows"));
  // The same checks without a file (the fuzz target's entry point).
  std::string bytes = ReadAll(dir / "prod.safetensors");
  EXPECT_FALSE(Checkpoint::OpenBuffer("buf", bytes).ok());
}

TEST(Safetensors, WriterRefusesAShapeItsReaderWouldRefuse) {
  TempDir dir;
  TensorSource s{"w.weight", DType::kF32, {int64_t{1} << 62, 4}, [](uint8_t*) {}};
  Status st = WriteSafetensors(dir / "x.safetensors", std::vector<TensorSource>{s}, {});
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("tensor w.weight"));
  EXPECT_FALSE(std::filesystem::exists(dir / "x.safetensors"));
  TensorData d{"neg", DType::kF32, {-2, -2}, std::vector<uint8_t>(16)};
  st = WriteSafetensors(dir / "y.safetensors", std::vector<TensorData>{d});
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("tensor neg"));
}

TEST(Safetensors, OpenBufferParsesWhatTheWriterWrote) {
  TempDir dir;
  ASSERT_TRUE(WriteSafetensors(dir / "x.safetensors", {TensorData::FromFloat("w", DType::kF32, {2, 3}, Ramp(6, 1))}).ok());
  auto ck = Checkpoint::OpenBuffer("mem", ReadAll(dir / "x.safetensors"));
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  auto w = (*ck)->ReadFloat("w", {2, 3});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, Ramp(6, 1));
}

TEST(Safetensors, GetChecksExpectedShapeAndPresence) {
  TempDir dir;
  ASSERT_TRUE(WriteSafetensors(dir / "x.safetensors", {TensorData::FromFloat("w", DType::kF32, {2, 3}, Ramp(6, 1))}).ok());
  auto ck = Checkpoint::OpenFile(dir / "x.safetensors");
  ASSERT_TRUE(ck.ok());
  auto wrong = (*ck)->Get("w", {3, 2});
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("tensor w has shape [2, 3], the config expects [3, 2]"));
  auto missing = (*ck)->Get("v");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("tensor v is missing"));
}

TEST(Safetensors, MissingFilesAndShardsAreErrors) {
  TempDir dir;
  auto ck = Checkpoint::OpenDir(dir.path());
  ASSERT_FALSE(ck.ok());
  EXPECT_THAT(ck.status().message(), HasSubstr("model.safetensors"));
  WriteAll(dir / "model.safetensors.index.json", R"({"weight_map": {"w": "model-00001-of-00002.safetensors"}})");
  ck = Checkpoint::OpenDir(dir.path());
  ASSERT_FALSE(ck.ok());
  EXPECT_THAT(ck.status().message(), HasSubstr("model-00001-of-00002.safetensors"));
}

}  // namespace
}  // namespace ritsu::engine
