// Module entry: registers the handle classes and free functions, and installs log capture.
#include <bpf/libbpf.h>

#include "common.h"

namespace lbts {
namespace {

// The wrapper passes its BpfError factory so native failures arrive as typed errors.
Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "factory must be a function");
  info.Env().GetInstanceData<AddonData>()->errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n <= 0) ThrowBpf(info.Env(), "libbpf_num_possible_cpus", Errno(n), ErrCtx{});
  return Napi::Number::New(info.Env(), n);
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  InstallLogCapture();
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory));
  exports.Set("takeLog", Napi::Function::New(env, TakeLog));
  exports.Set("setLogLevel", Napi::Function::New(env, SetLogLevel));
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
  exports.Set("libbpfVersion", Napi::Function::New(env, Version));
  InitObject(env, exports, data);
  InitMap(env, exports, data);
  InitProg(env, exports, data);
  InitRingBuffer(env, exports, data);
  InitTc(env, exports);
  return exports;
}

}  // namespace lbts

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return lbts::Init(env, exports); }

NODE_API_MODULE(bpf_ts, InitAddon)
