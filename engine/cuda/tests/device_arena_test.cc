// DeviceArena with host memory standing in for the device: the cap, block reuse, the release
// of cached blocks under the cap, the peak, and the size parser behind --max-gpu-memory.
#include "engine/cuda/device_arena.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

namespace ritsu::engine::cuda {
namespace {

struct FakeDevice {
  explicit FakeDevice(size_t cap) : capacity(cap) {}
  size_t capacity;
  size_t used = 0;
  int allocs = 0, frees = 0, syncs = 0;
  std::set<void*> live;
  std::map<void*, size_t> sizes;

  RawAllocator Raw() {
    RawAllocator r;
    r.alloc = [this](void** p, size_t bytes) {
      if (used + bytes > capacity) return false;
      *p = std::malloc(bytes);
      used += bytes;
      ++allocs;
      live.insert(*p);
      sizes[*p] = bytes;
      return true;
    };
    r.free = [this](void* p) {
      used -= sizes[p];
      live.erase(p);
      ++frees;
      std::free(p);
    };
    r.sync = [this] { ++syncs; };
    r.describe_free = [this] { return std::to_string(capacity - used) + " B free"; };
    return r;
  }
};

constexpr size_t kMiB = size_t(1) << 20;

TEST(DeviceArena, ReusesFreedBlocksWithoutNewAllocations) {
  FakeDevice dev(1024 * kMiB);
  {
    DeviceArena arena(0, dev.Raw());
    auto a = arena.Allocate(1000);
    ASSERT_TRUE(a.ok());
    arena.Free(a.value());
    auto b = arena.Allocate(900);  // same 1024-byte class
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b.value(), a.value());
    EXPECT_EQ(dev.allocs, 1);
    EXPECT_EQ(arena.in_use_bytes(), 1024u);
    arena.Free(b.value());
    // A cached block up to 1/8 larger is reused; a much larger one is not.
    auto big = arena.Allocate(8 * kMiB);
    ASSERT_TRUE(big.ok());
    arena.Free(big.value());
    auto near = arena.Allocate(7 * kMiB + 512 * 1024);
    ASSERT_TRUE(near.ok());
    EXPECT_EQ(near.value(), big.value());
    EXPECT_EQ(arena.in_use_bytes(), 8 * kMiB);  // accounted at the block's real size
    auto small = arena.Allocate(2 * kMiB);
    ASSERT_TRUE(small.ok());
    EXPECT_NE(small.value(), big.value());
    arena.Free(near.value());
    arena.Free(small.value());
  }
  EXPECT_EQ(dev.used, 0u);  // the destructor returned everything
  EXPECT_TRUE(dev.live.empty());
}

TEST(DeviceArena, CapRefusesWithAMessageNamingTheSizes) {
  FakeDevice dev(1024 * kMiB);
  DeviceArena arena(10 * kMiB, dev.Raw());
  auto a = arena.Allocate(8 * kMiB);
  ASSERT_TRUE(a.ok());
  auto b = arena.Allocate(4 * kMiB);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("--max-gpu-memory 10.0 MiB"), std::string::npos) << b.status().message();
  EXPECT_NE(b.status().message().find("8.0 MiB in use"), std::string::npos) << b.status().message();
  EXPECT_EQ(arena.peak_bytes(), 8 * kMiB);
}

TEST(DeviceArena, ReleasesCachedBlocksToStayUnderTheCap) {
  FakeDevice dev(1024 * kMiB);
  DeviceArena arena(10 * kMiB, dev.Raw());
  auto a = arena.Allocate(6 * kMiB);
  ASSERT_TRUE(a.ok());
  arena.Free(a.value());  // cached: reserved stays 6 MiB
  EXPECT_EQ(arena.reserved_bytes(), 6 * kMiB);
  auto b = arena.Allocate(8 * kMiB);  // 6 cached + 8 > 10: the cache must be released first
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(arena.reserved_bytes(), 8 * kMiB);
  EXPECT_GE(dev.syncs, 1);  // released only after queued work finished
  EXPECT_EQ(arena.peak_bytes(), 8 * kMiB);
}

TEST(DeviceArena, DeviceOutOfMemoryIsAnError) {
  FakeDevice dev(4 * kMiB);
  DeviceArena arena(0, dev.Raw());
  auto a = arena.Allocate(6 * kMiB);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("B free"), std::string::npos);
}

TEST(ParseMemorySize, AcceptsUnitsAndRejectsGarbage) {
  EXPECT_EQ(ParseMemorySize("10G", "--max-gpu-memory").value(), 10ull << 30);
  EXPECT_EQ(ParseMemorySize("10GiB", "--max-gpu-memory").value(), 10ull << 30);
  EXPECT_EQ(ParseMemorySize("512m", "--max-gpu-memory").value(), 512ull << 20);
  EXPECT_EQ(ParseMemorySize("1.5G", "--max-gpu-memory").value(), 3ull << 29);
  EXPECT_EQ(ParseMemorySize("4096", "--max-gpu-memory").value(), 4096u);
  for (const char* bad : {"", "abc", "10X", "-1G", "0"}) {
    auto r = ParseMemorySize(bad, "--max-gpu-memory");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--max-gpu-memory"), std::string::npos);
  }
}

}  // namespace
}  // namespace ritsu::engine::cuda
