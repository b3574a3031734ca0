// Native handle classes shared between translation units.
#pragma once

#include <bpf/libbpf.h>

#include <memory>

#include "common.h"

namespace lbts {

// A bpf_object and whether it is still open. Maps and programs taken from an object hold this so
// they refuse to touch an fd that closing the object has released (and the kernel may reuse).
struct ObjState {
  bpf_object* obj = nullptr;
  std::string name;
  bool loaded = false;
  ~ObjState() {
    if (obj != nullptr) bpf_object__close(obj);
  }
};

class ObjectHandle : public Napi::ObjectWrap<ObjectHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ObjectHandle(const Napi::CallbackInfo& info);
  std::shared_ptr<ObjState> state() const { return st_; }
  // Throws unless the object is open (and loaded, when required).
  bpf_object* Checked(Napi::Env env, const char* op, bool needLoaded) const;

 private:
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value IsLoaded(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value SetMapPinPath(const Napi::CallbackInfo& info);
  Napi::Value SetMapMaxEntries(const Napi::CallbackInfo& info);
  Napi::Value SetMapInitialValue(const Napi::CallbackInfo& info);
  Napi::Value ReuseMapFd(const Napi::CallbackInfo& info);
  Napi::Value SetProgAutoload(const Napi::CallbackInfo& info);
  Napi::Value UnpinMaps(const Napi::CallbackInfo& info);
  bpf_map* FindMap(Napi::Env env, const std::string& name, const char* op) const;

  std::shared_ptr<ObjState> st_;
};

}  // namespace lbts
