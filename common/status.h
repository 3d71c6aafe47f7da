// Errors as values (in the style of leveldb's Status): daemons never throw across their
// boundaries; a function that can fail returns Status or Result<T>, and the message says what
// went wrong and, where it helps, what to do ("data dir /x has schema 3, this build reads 2:
// ...").
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace ritsu {

class Status {
 public:
  enum class Code { kOk, kInvalidArgument, kNotFound, kAlreadyExists, kFailedPrecondition,
                    kPermissionDenied, kUnavailable, kIOError, kCorruption, kInternal };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
  static Status FailedPrecondition(std::string m) { return Status(Code::kFailedPrecondition, std::move(m)); }
  static Status PermissionDenied(std::string m) { return Status(Code::kPermissionDenied, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: --gpus must be >= 0 (got -1)"
  std::string ToString() const;
  static const char* CodeName(Code c);

  // Prefixes context to the message: s.Annotate("reading /x/config.json").
  Status Annotate(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T>: a T or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ritsu

// Early return of a non-ok Status: RITSU_RETURN_IF_ERROR(store.Put(...));
#define RITSU_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::ritsu::Status _ritsu_st = (expr);             \
    if (!_ritsu_st.ok()) return _ritsu_st;          \
  } while (0)

#define RITSU_CONCAT_INNER(a, b) a##b
#define RITSU_CONCAT(a, b) RITSU_CONCAT_INNER(a, b)
// RITSU_ASSIGN_OR_RETURN(auto spec, ParseSpec(text));
#define RITSU_ASSIGN_OR_RETURN(lhs, expr) \
  RITSU_ASSIGN_OR_RETURN_IMPL(RITSU_CONCAT(_ritsu_res_, __LINE__), lhs, expr)
#define RITSU_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
