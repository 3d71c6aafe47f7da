#include "worker/slots.h"

#include <gtest/gtest.h>

#include "worker/gpu_discovery.h"

namespace ritsu::worker {
namespace {

TEST(SlotsTest, ParsesCpuSlots) {
  auto s = ParseSlotSpec("cpu0:mem=16G,cpu1:mem=512M");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].slot.id, "cpu0");
  EXPECT_FALSE((*s)[0].slot.is_gpu);
  EXPECT_EQ((*s)[0].slot.mem_bytes, 16ull << 30);
  EXPECT_EQ((*s)[1].slot.mem_bytes, 512ull << 20);
  EXPECT_EQ((*s)[1].visible_device, "");
}

TEST(SlotsTest, ParsesGpuAndMigSlots) {
  auto s = ParseSlotSpec("gpu1:mem=10G:name=RTX 3080:cc=8.6,mig:MIG-5c1f0e2a-aaaa:mem=20G");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].slot.id, "1");
  EXPECT_TRUE((*s)[0].slot.is_gpu);
  EXPECT_EQ((*s)[0].slot.name, "RTX 3080");
  EXPECT_EQ((*s)[0].slot.compute_capability, "8.6");
  EXPECT_EQ((*s)[1].slot.id, "MIG-5c1f0e2a-aaaa");
  EXPECT_EQ((*s)[1].visible_device, "MIG-5c1f0e2a-aaaa");
  EXPECT_EQ((*s)[1].slot.mem_bytes, 20ull << 30);
  EXPECT_EQ(VisibleDevicesFor(*s, {"1", "MIG-5c1f0e2a-aaaa"}), "1,MIG-5c1f0e2a-aaaa");
  EXPECT_EQ(VisibleDevicesFor(*s, {}), "");
}

TEST(SlotsTest, RejectsBadSpecsWithTheEntryNamed) {
  for (const char* bad : {"", "cpu", "tpu0", "cpu0:mem=lots", "cpu0:speed=3", "cpu0,,cpu1", "cpu0,cpu0",
                          "mig:", "cpu0:mem"}) {
    auto s = ParseSlotSpec(bad);
    EXPECT_FALSE(s.ok()) << "accepted '" << bad << "'";
    if (!s.ok()) {
      EXPECT_NE(s.status().message().find("--slots"), std::string::npos) << s.status().message();
    }
  }
}

TEST(SlotsTest, CpuSlotsHideGpus) {
  auto s = ParseSlotSpec("cpu0,gpu0");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(VisibleDevicesFor(*s, {"cpu0"}), "");
  EXPECT_EQ(VisibleDevicesFor(*s, {"0"}), "0");
}

TEST(SlotsTest, DiscoveryNeverFailsAndExplainsAnEmptyResult) {
  DiscoveryResult r = DiscoverGpus();  // on CI (no driver) this is empty with a note
  if (r.slots.empty()) {
    EXPECT_FALSE(r.note.empty());
  }
  for (const auto& s : r.slots) {
    EXPECT_TRUE(s.slot.is_gpu);
    EXPECT_FALSE(s.visible_device.empty());
  }
}

}  // namespace
}  // namespace ritsu::worker
