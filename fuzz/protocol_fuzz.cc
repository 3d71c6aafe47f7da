// libFuzzer target: the wire decoder (common/protocol Decode) and the conversion of a decoded
// body into its message struct, as ritsud and the worker do with every frame they receive.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/protocol.h"

namespace {

template <typename... T>
void ConvertAs(const ritsu::Message& m) {
  // Exactly one T matches m.type; the others return BodyMismatch at once.
  (static_cast<void>(m.As<T>()), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = ritsu::Decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!m.ok()) return 0;
  using namespace ritsu;
  ConvertAs<ErrorReply, Ack, Register, RegisterReply, Heartbeat, HeartbeatReply, Assign, Started, LogChunk, LogAck,
            Finished, CancelTask, Submit, SubmitReply, Cancel, CancelReply, Retry, RetryReply, StatusRequest,
            StatusReply, Show, ShowReply, Logs, LogsReply, Workers, WorkersReply, Drain, Explain, ExplainReply, Wait,
            WaitReply, SweepSubmit, SweepSubmitReply, SweepStatus, SweepStatusReply>(*m);
  return 0;
}
