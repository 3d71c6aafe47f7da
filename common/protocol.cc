#include "common/protocol.h"

#include <optional>

#include <fmt/format.h>

namespace ritsu {
namespace {

// Bounds for the msgpack parser so a hostile 16 MiB frame cannot make it allocate millions of
// objects or recurse deeply. The widest legal message is a Submit of kMaxSubmitBatch specs.
const msgpack::unpack_limit kUnpackLimit(
    /*array=*/200'000, /*map=*/100'000, /*str=*/kMaxFrameBytes, /*bin=*/kMaxFrameBytes,
    /*ext=*/0, /*depth=*/16);

constexpr MsgType kAllTypes[] = {
    MsgType::kError, MsgType::kAck,
    MsgType::kRegister, MsgType::kRegisterReply, MsgType::kHeartbeat, MsgType::kHeartbeatReply,
    MsgType::kAssign, MsgType::kStarted, MsgType::kLogChunk, MsgType::kLogAck,
    MsgType::kFinished, MsgType::kCancelTask,
    MsgType::kSubmit, MsgType::kSubmitReply, MsgType::kCancel, MsgType::kCancelReply,
    MsgType::kRetry, MsgType::kRetryReply, MsgType::kStatus, MsgType::kStatusReply,
    MsgType::kShow, MsgType::kShowReply, MsgType::kLogs, MsgType::kLogsReply,
    MsgType::kWorkers, MsgType::kWorkersReply, MsgType::kDrain, MsgType::kExplain,
    MsgType::kExplainReply, MsgType::kWait, MsgType::kWaitReply, MsgType::kSweepSubmit,
    MsgType::kSweepSubmitReply, MsgType::kSweepStatus, MsgType::kSweepStatusReply,
    MsgType::kMetrics, MsgType::kMetricsReply,
};

// Finds `key` in a msgpack map; nullptr if absent.
const msgpack::object* FindKey(const msgpack::object& map, std::string_view key) {
  if (map.type != msgpack::type::MAP) return nullptr;
  for (uint32_t i = 0; i < map.via.map.size; ++i) {
    const auto& kv = map.via.map.ptr[i];
    if (kv.key.type == msgpack::type::STR &&
        std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
      return &kv.val;
    }
  }
  return nullptr;
}

}  // namespace

const char* MsgTypeName(MsgType t) {
  switch (t) {
    case MsgType::kError: return "error";
    case MsgType::kAck: return "ack";
    case MsgType::kRegister: return "register";
    case MsgType::kRegisterReply: return "register_reply";
    case MsgType::kHeartbeat: return "heartbeat";
    case MsgType::kHeartbeatReply: return "heartbeat_reply";
    case MsgType::kAssign: return "assign";
    case MsgType::kStarted: return "started";
    case MsgType::kLogChunk: return "log_chunk";
    case MsgType::kLogAck: return "log_ack";
    case MsgType::kFinished: return "finished";
    case MsgType::kCancelTask: return "cancel_task";
    case MsgType::kSubmit: return "submit";
    case MsgType::kSubmitReply: return "submit_reply";
    case MsgType::kCancel: return "cancel";
    case MsgType::kCancelReply: return "cancel_reply";
    case MsgType::kRetry: return "retry";
    case MsgType::kRetryReply: return "retry_reply";
    case MsgType::kStatus: return "status";
    case MsgType::kStatusReply: return "status_reply";
    case MsgType::kShow: return "show";
    case MsgType::kShowReply: return "show_reply";
    case MsgType::kLogs: return "logs";
    case MsgType::kLogsReply: return "logs_reply";
    case MsgType::kWorkers: return "workers";
    case MsgType::kWorkersReply: return "workers_reply";
    case MsgType::kDrain: return "drain";
    case MsgType::kExplain: return "explain";
    case MsgType::kExplainReply: return "explain_reply";
    case MsgType::kWait: return "wait";
    case MsgType::kWaitReply: return "wait_reply";
    case MsgType::kSweepSubmit: return "sweep_submit";
    case MsgType::kSweepSubmitReply: return "sweep_submit_reply";
    case MsgType::kSweepStatus: return "sweep_status";
    case MsgType::kSweepStatusReply: return "sweep_status_reply";
    case MsgType::kMetrics: return "metrics";
    case MsgType::kMetricsReply: return "metrics_reply";
  }
  return "unknown";
}

bool IsKnownMsgType(uint32_t raw) {
  for (MsgType t : kAllTypes) {
    if (static_cast<uint32_t>(t) == raw) return true;
  }
  return false;
}

const char* LogStreamName(LogStream s) {
  return s == LogStream::kStderr ? "stderr" : s == LogStream::kMetrics ? "metrics" : "stdout";
}

namespace protocol_internal {

void PackHeader(msgpack::packer<msgpack::sbuffer>& pk, MsgType type, uint64_t request_id) {
  pk.pack_array(4);
  pk.pack_uint32(kProtocolVersion);
  pk.pack_uint16(static_cast<uint16_t>(type));
  pk.pack_uint64(request_id);
}

Status BodyMismatch(MsgType want, MsgType got) {
  return Status::InvalidArgument(
      fmt::format("expected a '{}' message, got '{}'", MsgTypeName(want), MsgTypeName(got)));
}

Status BodyConvertError(MsgType type, const std::string& field, const char* what) {
  if (field.empty()) {
    return Status::InvalidArgument(fmt::format("malformed '{}' message body: {}", MsgTypeName(type), what));
  }
  return Status::InvalidArgument(fmt::format("malformed '{}' message: field '{}' has the wrong type or shape ({})",
                                             MsgTypeName(type), field, what));
}

std::string MapKeyAt(const msgpack::object& map, uint32_t i) {
  const auto& k = map.via.map.ptr[i].key;
  if (k.type == msgpack::type::STR) return std::string(k.via.str.ptr, k.via.str.size);
  return fmt::format("#{}", i);
}

// Per-type limits that the generic parser limits cannot express.
Status CheckLimits(MsgType type, const msgpack::object& body) {
  if (type == MsgType::kLogChunk) {
    const msgpack::object* data = FindKey(body, "data");
    if (data != nullptr) {
      size_t n = data->type == msgpack::type::STR ? data->via.str.size
               : data->type == msgpack::type::BIN ? data->via.bin.size : 0;
      if (n > kMaxLogChunkBytes) {
        return Status::InvalidArgument(fmt::format(
            "log_chunk data is {} bytes, the limit is {} (split it)", n, kMaxLogChunkBytes));
      }
    }
  } else if (type == MsgType::kSubmit) {
    const msgpack::object* tasks = FindKey(body, "tasks");
    if (tasks != nullptr && tasks->type == msgpack::type::ARRAY &&
        tasks->via.array.size > kMaxSubmitBatch) {
      return Status::InvalidArgument(fmt::format(
          "submit of {} tasks, the limit is {} per message (split the batch)",
          tasks->via.array.size, kMaxSubmitBatch));
    }
  }
  return Status::Ok();
}

}  // namespace protocol_internal

namespace {

// Reads one msgpack unsigned integer at frame[*pos] (positive fixint, uint8..uint64).
std::optional<uint64_t> ReadUint(std::string_view f, size_t* pos) {
  if (*pos >= f.size()) return std::nullopt;
  auto b = static_cast<uint8_t>(f[*pos]);
  if (b <= 0x7f) { ++*pos; return b; }
  int n = b == 0xcc ? 1 : b == 0xcd ? 2 : b == 0xce ? 4 : b == 0xcf ? 8 : 0;
  if (n == 0 || *pos + 1 + n > f.size()) return std::nullopt;
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(f[*pos + 1 + i]);
  *pos += 1 + n;
  return v;
}

}  // namespace

uint64_t PeekRequestId(std::string_view frame) {
  // Only the header is read, by hand: the body may be too big or broken for the parser.
  if (frame.empty()) return 0;
  auto b = static_cast<uint8_t>(frame[0]);
  size_t pos = 1;
  if (b >= 0x93 && b <= 0x9f) {
    // fixarray of 3+ elements
  } else if (b == 0xdc) {
    pos = 3;
  } else if (b == 0xdd) {
    pos = 5;
  } else {
    return 0;
  }
  for (int field = 0; field < 2; ++field) {
    if (!ReadUint(frame, &pos)) return 0;
  }
  return ReadUint(frame, &pos).value_or(0);
}

Result<Message> Decode(std::string_view frame) {
  if (frame.size() > kMaxFrameBytes) {
    return Status::InvalidArgument(
        fmt::format("frame of {} bytes exceeds the limit of {}", frame.size(), kMaxFrameBytes));
  }
  if (frame.empty()) return Status::InvalidArgument("empty frame");
  auto handle = std::make_shared<msgpack::object_handle>();
  size_t off = 0;
  try {
    msgpack::unpack(*handle, frame.data(), frame.size(), off, nullptr, nullptr, kUnpackLimit);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(fmt::format("frame is not valid msgpack: {}", e.what()));
  }
  if (off != frame.size()) {
    return Status::InvalidArgument(
        fmt::format("frame has {} trailing bytes after the message", frame.size() - off));
  }
  const msgpack::object& root = handle->get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size != 4) {
    return Status::InvalidArgument("frame is not a [version, type, request_id, body] array");
  }
  const msgpack::object* f = root.via.array.ptr;
  if (f[0].type != msgpack::type::POSITIVE_INTEGER || f[1].type != msgpack::type::POSITIVE_INTEGER ||
      f[2].type != msgpack::type::POSITIVE_INTEGER || f[3].type != msgpack::type::MAP) {
    return Status::InvalidArgument(
        "frame header has wrong field types (want uint version, uint type, uint request_id, map body)");
  }
  Message m;
  if (f[0].via.u64 != kProtocolVersion) {
    return Status::FailedPrecondition(fmt::format(
        "protocol version {} is not supported (this build speaks {}): upgrade the older side",
        f[0].via.u64, kProtocolVersion));
  }
  m.version = static_cast<uint32_t>(f[0].via.u64);
  if (f[1].via.u64 > 0xffff || !IsKnownMsgType(static_cast<uint32_t>(f[1].via.u64))) {
    return Status::InvalidArgument(fmt::format("unknown message type {}", f[1].via.u64));
  }
  m.type = static_cast<MsgType>(f[1].via.u64);
  m.request_id = f[2].via.u64;
  RITSU_RETURN_IF_ERROR(protocol_internal::CheckLimits(m.type, f[3]));
  m.body_ = &f[3];
  m.handle_ = std::move(handle);
  return m;
}

std::string EncodeError(uint64_t request_id, const Status& status) {
  ErrorReply e;
  e.code = static_cast<int32_t>(status.code());
  e.message = status.message();
  return Encode(request_id, e);
}

Status ErrorToStatus(const ErrorReply& e) {
  switch (static_cast<Status::Code>(e.code)) {
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(e.message);
    case Status::Code::kNotFound: return Status::NotFound(e.message);
    case Status::Code::kAlreadyExists: return Status::AlreadyExists(e.message);
    case Status::Code::kFailedPrecondition: return Status::FailedPrecondition(e.message);
    case Status::Code::kPermissionDenied: return Status::PermissionDenied(e.message);
    case Status::Code::kUnavailable: return Status::Unavailable(e.message);
    case Status::Code::kIOError: return Status::IOError(e.message);
    case Status::Code::kCorruption: return Status::Corruption(e.message);
    default: return Status::Internal(e.message);
  }
}

}  // namespace ritsu
