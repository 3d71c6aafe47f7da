// The NCCL GradientReducer of --gpus N: one process, ncclCommInitAll over the replicas' devices
// (one communicator per device), and per replica thread a group of in-place ncclAllReduce(sum)
// calls, one per LoRA gradient tensor, on a stream of its own. Built only with CUDA and NCCL
// (engine/train/CMakeLists.txt).
//
// Ordering with the trainer: TrainDevice works on the legacy default stream. The reducer waits
// for the device before enqueueing (the gradients are complete) and for its own stream before
// returning (the sums are in place before AdamW reads them), so no event plumbing is needed;
// the two host waits per step cost microseconds next to a step. The second wait polls instead
// of blocking so that a replica that failed elsewhere (Abort) cannot leave the others hanging
// in a collective whose peer never comes: they abort their communicators and return an error.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "engine/train/gradient_reducer.h"

namespace ritsu::train {
namespace {

std::string NcclError(const char* what, ncclResult_t r, ncclComm_t comm) {
  std::string m = std::string("NCCL ") + what + ": " + ncclGetErrorString(r);
  if (const char* last = ncclGetLastError(comm); last && *last) m += " (" + std::string(last) + ")";
  return m;
}

class NcclGradientReducer final : public GradientReducer {
 public:
  NcclGradientReducer(std::vector<int> ordinals, std::vector<ncclComm_t> comms, std::vector<cudaStream_t> streams)
      : ordinals_(std::move(ordinals)), comms_(std::move(comms)), streams_(std::move(streams)),
        comm_aborted_(comms_.size(), 0) {}

  ~NcclGradientReducer() override {
    int previous = 0;
    cudaGetDevice(&previous);
    // ncclCommDestroy flushes pending work, which a peer that never came would block; after an
    // abort the remaining communicators are aborted too.
    for (size_t i = 0; i < comms_.size(); ++i) {
      if (comm_aborted_[i]) continue;
      if (aborted_.load()) ncclCommAbort(comms_[i]);
      else ncclCommDestroy(comms_[i]);
    }
    for (size_t i = 0; i < streams_.size(); ++i) {
      cudaSetDevice(ordinals_[i]);
      cudaStreamDestroy(streams_[i]);
    }
    cudaSetDevice(previous);
  }

  int replicas() const override { return static_cast<int>(comms_.size()); }

  Status AllReduceSum(int replica, const std::vector<GradSpan>& buffers) override {
    const size_t r = static_cast<size_t>(replica);
    ncclComm_t comm = comms_[r];
    cudaStream_t stream = streams_[r];
    if (aborted_.load()) return Aborted(r);
    // The replica's thread has its device current already (it made its TrainDevice); setting it
    // again costs nothing and keeps the waits below on the right device whatever ran before.
    if (cudaSetDevice(ordinals_[r]) != cudaSuccess) {
      Abort();
      return Status::Internal("gradient all-reduce: cudaSetDevice(" + std::to_string(ordinals_[r]) + ") failed");
    }
    // Every kernel of the step on this device (whatever stream the TrainDevice used) is done.
    if (cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess) {
      Abort();
      return Status::Internal("gradient all-reduce on cuda:" + std::to_string(ordinals_[r]) +
                              ": the gradient computation failed: " + cudaGetErrorString(e));
    }
    ncclResult_t res = ncclGroupStart();
    for (const GradSpan& b : buffers) {
      if (res != ncclSuccess) break;
      res = ncclAllReduce(b.data, b.data, b.n, ncclFloat32, ncclSum, comm, stream);
    }
    const ncclResult_t end = ncclGroupEnd();
    if (res == ncclSuccess) res = end;
    if (res != ncclSuccess) {
      Abort();
      return Status::Internal(NcclError("all-reduce of the LoRA gradients", res, comm));
    }
    for (;;) {
      const cudaError_t q = cudaStreamQuery(stream);
      if (q == cudaSuccess) return Status::Ok();
      if (q != cudaErrorNotReady) {
        Abort();
        return Status::Internal("gradient all-reduce on cuda:" + std::to_string(ordinals_[r]) + ": " +
                                cudaGetErrorString(q));
      }
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm, &async);
      if (async != ncclSuccess) {
        Abort();
        return Status::Internal(NcclError("all-reduce of the LoRA gradients", async, comm));
      }
      if (aborted_.load()) return Aborted(r);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  void Abort() override { aborted_.store(true); }

 private:
  // Called on replica r's own thread, the only one that uses comms_[r].
  Status Aborted(size_t r) {
    if (!comm_aborted_[r]) {
      ncclCommAbort(comms_[r]);
      comm_aborted_[r] = 1;
    }
    return Status::Unavailable("gradient all-reduce abandoned: another replica failed");
  }

  std::vector<int> ordinals_;
  std::vector<ncclComm_t> comms_;
  std::vector<cudaStream_t> streams_;
  // Entry r is written only by replica r's thread (then read by the destructor): char, not the
  // bit-packed vector<bool>, so concurrent writes to neighbouring entries do not race.
  std::vector<char> comm_aborted_;
  std::atomic<bool> aborted_{false};
};

}  // namespace

Result<std::unique_ptr<GradientReducer>> MakeNcclGradientReducer(const std::vector<int>& ordinals) {
  const std::string flag = "--gpus " + std::to_string(ordinals.size());
  const int n = static_cast<int>(ordinals.size());
  // NVLink multicast (NVLS) off unless the user chose: it must stay off on the lab's multi-GPU
  // machines, and a LoRA gradient all-reduce (a few MB per step) gains nothing from it.
  setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);
  std::vector<ncclComm_t> comms(ordinals.size(), nullptr);
  if (ncclResult_t r = ncclCommInitAll(comms.data(), n, ordinals.data()); r != ncclSuccess) {
    return Status::FailedPrecondition(flag + ": " + NcclError("communicator setup over the GPUs", r, nullptr));
  }
  int previous = 0;
  cudaGetDevice(&previous);
  std::vector<cudaStream_t> streams;
  for (int ordinal : ordinals) {
    cudaStream_t s = nullptr;
    // Non-blocking: the ordering with the trainer's default-stream work is the explicit host
    // waits of AllReduceSum, not the legacy stream's implicit barrier.
    if (cudaSetDevice(ordinal) != cudaSuccess || cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) {
      cudaGetLastError();
      for (size_t i = 0; i < streams.size(); ++i) {
        cudaSetDevice(ordinals[i]);
        cudaStreamDestroy(streams[i]);
      }
      for (ncclComm_t c : comms) ncclCommDestroy(c);
      cudaSetDevice(previous);
      return Status::FailedPrecondition(flag + ": creating a CUDA stream on cuda:" + std::to_string(ordinal) + " failed");
    }
    streams.push_back(s);
  }
  cudaSetDevice(previous);
  return std::unique_ptr<GradientReducer>(new NcclGradientReducer(ordinals, std::move(comms), std::move(streams)));
}

}  // namespace ritsu::train
