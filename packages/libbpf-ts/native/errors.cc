// Typed errors: every failure reaches JS as the wrapper's BpfError with errno, code and context.
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "common.h"

namespace lbts {

[[noreturn]] void ThrowBpf(Napi::Env env, const std::string& op, int err, const ErrCtx& ctx,
                           const std::string& message, size_t logMark) {
  Napi::Object details = Napi::Object::New(env);
  const char* code = strerrorname_np(err);
  details.Set("code", code ? std::string(code) : "E" + std::to_string(err));
  details.Set("reason", std::string(strerror(err)));
  if (!message.empty()) details.Set("message", message);
  if (!ctx.object.empty()) details.Set("object", ctx.object);
  if (!ctx.map.empty()) details.Set("map", ctx.map);
  if (!ctx.program.empty()) details.Set("program", ctx.program);
  if (!ctx.path.empty()) details.Set("path", ctx.path);
  if (ctx.index >= 0) details.Set("index", Napi::Number::New(env, static_cast<double>(ctx.index)));
  if (logMark != SIZE_MAX) {
    std::string log = LogSince(logMark);
    if (!log.empty()) details.Set("log", log);
  }
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data != nullptr && !data->errorFactory.IsEmpty()) {
    Napi::Value e = data->errorFactory.Call({Napi::String::New(env, op), Napi::Number::New(env, err), details});
    throw Napi::Error(env, e);
  }
  Napi::Error e = Napi::Error::New(env, op + ": " + strerror(err));
  e.Set("op", op);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("details", details);
  throw e;
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsBuffer()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Buffer");
  }
  return info[i].As<Napi::Buffer<uint8_t>>();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

int64_t ArgI64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an integer");
  }
  return static_cast<int64_t>(d);
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  int64_t v = ArgI64(info, i, name);
  if (v < 0 || v > UINT32_MAX) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must fit in 32 unsigned bits");
  }
  return static_cast<uint32_t>(v);
}

bool OptString(const Napi::Object& o, const char* key, std::string* out) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  *out = v.As<Napi::String>().Utf8Value();
  return true;
}

bool OptU32(const Napi::Object& o, const char* key, uint32_t* out) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d > UINT32_MAX || d != static_cast<double>(static_cast<uint32_t>(d))) {
    throw Napi::RangeError::New(o.Env(), std::string(key) + " must fit in 32 unsigned bits");
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

std::string BpfFdKind(int fd) {
  char link[64], target[128];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) return "";
  target[n] = 0;
  std::string t(target);
  const std::string prefix = "anon_inode:";
  return t.rfind(prefix, 0) == 0 ? t.substr(prefix.size()) : t;
}

FdGuard::~FdGuard() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace lbts
