// The CUDA trainer's pool rules on the host (malloc/free callbacks): reuse by size, the cap on
// reserved bytes, returning the cache under pressure, and the messages.
#include "engine/train/caching_pool.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "engine/train/train_device.h"

namespace ritsu::train {
namespace {

struct CountingHeap {
  int allocations = 0, releases = 0;
  bool full = false;  // the next allocations fail, as cudaMalloc on a full device
  CachingPool Pool(size_t cap) {
    return CachingPool(
        [this](size_t n) -> void* {
          if (full) return nullptr;
          ++allocations;
          return std::malloc(n);
        },
        [this](void* p) {
          ++releases;
          std::free(p);
        },
        cap, "test device");
  }
};

TEST(CachingPool, FreedBlocksOfTheSameSizeAreReusedWithoutAllocating) {
  CountingHeap heap;
  CachingPool pool = heap.Pool(0);
  void* first = nullptr;
  {
    auto a = pool.Alloc(1000);
    first = a.get();
    EXPECT_EQ(pool.live_bytes(), 1024u);  // rounded to 512-byte granules
  }
  EXPECT_EQ(pool.live_bytes(), 0u);
  EXPECT_EQ(pool.reserved_bytes(), 1024u);  // kept in the cache
  auto b = pool.Alloc(1024);                // same rounded size: the cached block
  EXPECT_EQ(b.get(), first);
  EXPECT_EQ(heap.allocations, 1);
  auto c = pool.Alloc(4096);  // another size: a new block
  EXPECT_EQ(heap.allocations, 2);
  EXPECT_EQ(pool.peak_bytes(), 1024u + 4096u);
}

TEST(CachingPool, TheCapCountsTheCacheAndReturnsItBeforeRefusing) {
  CountingHeap heap;
  CachingPool pool = heap.Pool(8192);
  { auto a = pool.Alloc(6000); }  // 6144 cached
  EXPECT_EQ(pool.reserved_bytes(), 6144u);
  auto b = pool.Alloc(4096);  // 6144 + 4096 > 8192: the cache goes back first, then it fits
  EXPECT_EQ(heap.releases, 1);
  EXPECT_EQ(pool.reserved_bytes(), 4096u);
  try {
    pool.Alloc(8192);  // 4096 live + 8192 > 8192 even with an empty cache
    FAIL() << "the cap was not enforced";
  } catch (const TrainOutOfMemory& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--max-gpu-memory 0.01 MiB exceeded"), std::string::npos) << m;
    EXPECT_NE(m.find("a request of 0.01 MiB with 0.00 MiB in use"), std::string::npos) << m;
  }
  EXPECT_EQ(pool.peak_reserved_bytes(), 6144u);
}

TEST(CachingPool, AFullDeviceIsRetriedAfterReturningTheCacheThenReported) {
  CountingHeap heap;
  CachingPool pool = heap.Pool(0);
  { auto a = pool.Alloc(512); }
  heap.full = true;
  try {
    pool.Alloc(2048);
    FAIL() << "a full device must be reported";
  } catch (const TrainOutOfMemory& e) {
    EXPECT_NE(std::string(e.what()).find("on test device"), std::string::npos) << e.what();
  }
  EXPECT_EQ(heap.releases, 1);  // the cache was returned before giving up
  EXPECT_EQ(pool.reserved_bytes(), 0u);
}

}  // namespace
}  // namespace ritsu::train
