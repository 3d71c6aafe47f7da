// The merged model computes what the base model with the adapter applied unmerged computes:
// logits of Model::Load(merged) vs Model::Load(base, lora_dir = adapter) on the engine's CPU
// backend, for a tiny fp32 Qwen3 (fp32 storage, so the merge itself adds no rounding).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/merge/lora_merge.h"
#include "engine/merge/tests/tiny_model.h"
#include "engine/model/backend.h"
#include "engine/model/model.h"

namespace ritsu::merge {
namespace {

using engine::Backend;

std::vector<float> Logits(const std::string& dir, const std::string& lora_dir, Backend& backend,
                          const std::vector<int32_t>& tokens) {
  engine::ModelLoadOptions opt;
  opt.lora_dir = lora_dir;
  auto model = engine::Model::Load(dir, backend, opt);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return {};
  engine::KvCache cache = (*model)->NewKvCache(1, static_cast<int64_t>(tokens.size()));
  engine::StepLayout step;
  step.segments = {{0, 0, static_cast<int32_t>(tokens.size())}};
  step.Finalize();
  std::vector<int64_t> rows;
  for (size_t i = 0; i < tokens.size(); ++i) rows.push_back(static_cast<int64_t>(i));
  auto logits = (*model)->Forward(tokens, step, cache, rows);
  EXPECT_TRUE(logits.ok()) << logits.status().ToString();
  if (!logits.ok()) return {};
  std::vector<float> out(static_cast<size_t>(logits->numel()));
  backend.Download(*logits, out.data());
  return out;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

TEST(MergeLogitsTest, MergedLogitsEqualBasePlusUnmergedLora) {
  testing::TempDir tmp;
  const auto config = testing::TinyQwen3Config();
  testing::WriteTinyModel(tmp / "base", config, engine::DType::kF32, 31);
  ASSERT_TRUE(testing::MakeAdapter(config, 37).Save(tmp / "lora").ok());
  MergeOptions opt;
  opt.base_dir = tmp / "base";
  opt.lora_dir = tmp / "lora";
  opt.output_dir = tmp / "merged";
  opt.threads = 2;
  auto r = MergeLora(opt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  auto backend = engine::MakeCpuBackend();
  const std::vector<int32_t> tokens = {3, 141, 59, 26, 5, 35, 89, 79};
  const auto merged = Logits(tmp / "merged", "", *backend, tokens);
  const auto unmerged = Logits(tmp / "base", tmp / "lora", *backend, tokens);
  const auto plain = Logits(tmp / "base", "", *backend, tokens);
  ASSERT_EQ(merged.size(), tokens.size() * 300);
  ASSERT_EQ(unmerged.size(), merged.size());
  double scale = 0;
  for (float v : unmerged) scale = std::max(scale, double(std::fabs(v)));
  // Same math in another order (W'x vs Wx + s B(Ax)) through 4 layers in fp32: 1e-4 of the
  // logit scale leaves room for ~1e-6 relative rounding amplified by the depth.
  EXPECT_LT(MaxAbsDiff(merged, unmerged), 1e-4 * scale);
  // The adapter must matter, or the comparison above proves nothing.
  EXPECT_GT(MaxAbsDiff(plain, unmerged), 1e-2 * scale);
}

}  // namespace
}  // namespace ritsu::merge
