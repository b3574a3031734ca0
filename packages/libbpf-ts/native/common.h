// Shared plumbing of the addon: per-env data, typed error construction, libbpf log capture.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lbts {

struct AddonData {
  Napi::FunctionReference errorFactory;  // JS (op, errno, details) -> BpfError
  Napi::FunctionReference objectCtor;
  Napi::FunctionReference mapCtor;
  Napi::FunctionReference progCtor;
  Napi::FunctionReference ringCtor;
};

// What the failing call was working on; empty strings are left out of the JS error.
struct ErrCtx {
  std::string object;
  std::string map;
  std::string program;
  std::string path;
  int64_t index = -1;  // element of a batch
};

// Builds the JS error (a BpfError when the wrapper registered its factory) and throws it as a C++
// exception so callers unwind without manual checks. `err` is a positive errno.
[[noreturn]] void ThrowBpf(Napi::Env env, const std::string& op, int err, const ErrCtx& ctx,
                           const std::string& message = "", size_t logMark = SIZE_MAX);

// libbpf returns -errno (1.x) or NULL with errno set; this normalises both to a positive errno.
inline int Errno(long ret) { return ret < 0 ? static_cast<int>(-ret) : static_cast<int>(ret); }

// libbpf log capture. Messages accumulate (bounded) until the wrapper drains them; an error thrown
// after `LogMark()` carries every message captured since that mark (e.g. the verifier log).
void InstallLogCapture();
size_t LogMark();
std::string LogSince(size_t mark);
Napi::Value TakeLog(const Napi::CallbackInfo& info);
Napi::Value SetLogLevel(const Napi::CallbackInfo& info);

// Argument helpers that throw TypeError with the argument's name.
Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name);
int64_t ArgI64(const Napi::CallbackInfo& info, size_t i, const char* name);
bool OptString(const Napi::Object& o, const char* key, std::string* out);
bool OptU32(const Napi::Object& o, const char* key, uint32_t* out);

// The kind of BPF object behind an fd ('bpf-map', 'bpf-prog', ...), from its anon inode name.
std::string BpfFdKind(int fd);

// Closes an fd on scope exit unless released.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard();
  int release() { int f = fd_; fd_ = -1; return f; }
  int get() const { return fd_; }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
 private:
  int fd_;
};

void InitObject(Napi::Env env, Napi::Object exports, AddonData* data);
void InitMap(Napi::Env env, Napi::Object exports, AddonData* data);
void InitProg(Napi::Env env, Napi::Object exports, AddonData* data);
void InitRingBuffer(Napi::Env env, Napi::Object exports, AddonData* data);
void InitTc(Napi::Env env, Napi::Object exports);

}  // namespace lbts
