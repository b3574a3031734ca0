// bpf_object: open an ELF with a pin root, configure maps/programs before load, load, close.
#include <unistd.h>

#include "handles.h"

namespace lbts {

Napi::Function ObjectHandle::Define(Napi::Env env) {
  return DefineClass(env, "ObjectHandle",
                     {
                         InstanceMethod<&ObjectHandle::Load>("load"),
                         InstanceMethod<&ObjectHandle::Close>("close"),
                         InstanceMethod<&ObjectHandle::Name>("name"),
                         InstanceMethod<&ObjectHandle::IsLoaded>("isLoaded"),
                         InstanceMethod<&ObjectHandle::IsClosed>("isClosed"),
                         InstanceMethod<&ObjectHandle::Maps>("maps"),
                         InstanceMethod<&ObjectHandle::Programs>("programs"),
                         InstanceMethod<&ObjectHandle::SetMapPinPath>("setMapPinPath"),
                         InstanceMethod<&ObjectHandle::SetMapMaxEntries>("setMapMaxEntries"),
                         InstanceMethod<&ObjectHandle::SetMapInitialValue>("setMapInitialValue"),
                         InstanceMethod<&ObjectHandle::ReuseMapFd>("reuseMapFd"),
                         InstanceMethod<&ObjectHandle::SetProgAutoload>("setProgAutoload"),
                         InstanceMethod<&ObjectHandle::UnpinMaps>("unpinMaps"),
                     });
}

// new ObjectHandle(path, { pinRoot?, objectName? })
ObjectHandle::ObjectHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ObjectHandle>(info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  std::string pinRoot, objectName;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    OptString(o, "pinRoot", &pinRoot);
    OptString(o, "objectName", &objectName);
  }
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  if (!pinRoot.empty()) opts.pin_root_path = pinRoot.c_str();
  if (!objectName.empty()) opts.object_name = objectName.c_str();
  size_t mark = LogMark();
  bpf_object* obj = bpf_object__open_file(path.c_str(), &opts);
  if (obj == nullptr) {
    ErrCtx ctx;
    ctx.path = path;
    ThrowBpf(env, "bpf_object__open_file", errno, ctx, "", mark);
  }
  st_ = std::make_shared<ObjState>();
  st_->obj = obj;
  st_->name = bpf_object__name(obj);
}

bpf_object* ObjectHandle::Checked(Napi::Env env, const char* op, bool needLoaded) const {
  ErrCtx ctx;
  ctx.object = st_->name;
  if (st_->obj == nullptr) ThrowBpf(env, op, EBADF, ctx, "object is closed");
  if (needLoaded && !st_->loaded) ThrowBpf(env, op, EINVAL, ctx, "object is not loaded yet");
  return st_->obj;
}

bpf_map* ObjectHandle::FindMap(Napi::Env env, const std::string& name, const char* op) const {
  bpf_object* obj = Checked(env, op, false);
  bpf_map* map = bpf_object__find_map_by_name(obj, name.c_str());
  if (map == nullptr) {
    ErrCtx ctx;
    ctx.object = st_->name;
    ctx.map = name;
    ThrowBpf(env, op, ENOENT, ctx, "no map named '" + name + "' in object");
  }
  return map;
}

Napi::Value ObjectHandle::Load(const Napi::CallbackInfo& info) {
  bpf_object* obj = Checked(info.Env(), "bpf_object__load", false);
  ErrCtx ctx;
  ctx.object = st_->name;
  if (st_->loaded) ThrowBpf(info.Env(), "bpf_object__load", EALREADY, ctx, "object is already loaded");
  size_t mark = LogMark();
  int err = bpf_object__load(obj);
  if (err != 0) ThrowBpf(info.Env(), "bpf_object__load", Errno(err), ctx, "", mark);
  st_->loaded = true;
  return info.Env().Undefined();
}

Napi::Value ObjectHandle::Close(const Napi::CallbackInfo& info) {
  if (st_->obj != nullptr) {
    bpf_object__close(st_->obj);
    st_->obj = nullptr;
  }
  return info.Env().Undefined();
}

Napi::Value ObjectHandle::Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), st_->name); }
Napi::Value ObjectHandle::IsLoaded(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), st_->obj != nullptr && st_->loaded);
}
Napi::Value ObjectHandle::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), st_->obj == nullptr);
}

// Declared maps as the ELF (and any pre-load configuration) describe them.
Napi::Value ObjectHandle::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_object* obj = Checked(env, "bpf_object__next_map", false);
  Napi::Array arr = Napi::Array::New(env);
  bpf_map* map;
  uint32_t i = 0;
  bpf_object__for_each_map(map, obj) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_map__name(map));
    o.Set("type", Napi::Number::New(env, bpf_map__type(map)));
    o.Set("keySize", Napi::Number::New(env, bpf_map__key_size(map)));
    o.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(map)));
    o.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(map)));
    o.Set("internal", Napi::Boolean::New(env, bpf_map__is_internal(map)));
    const char* pin = bpf_map__pin_path(map);
    if (pin != nullptr) o.Set("pinPath", pin);
    o.Set("pinned", Napi::Boolean::New(env, bpf_map__is_pinned(map)));
    arr.Set(i++, o);
  }
  return arr;
}

Napi::Value ObjectHandle::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_object* obj = Checked(env, "bpf_object__next_program", false);
  Napi::Array arr = Napi::Array::New(env);
  bpf_program* prog;
  uint32_t i = 0;
  bpf_object__for_each_program(prog, obj) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_program__name(prog));
    o.Set("section", bpf_program__section_name(prog));
    o.Set("type", Napi::Number::New(env, bpf_program__type(prog)));
    o.Set("autoload", Napi::Boolean::New(env, bpf_program__autoload(prog)));
    arr.Set(i++, o);
  }
  return arr;
}

// (mapName, path | null): null clears the pin path.
Napi::Value ObjectHandle::SetMapPinPath(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "map");
  bpf_map* map = FindMap(info.Env(), name, "bpf_map__set_pin_path");
  std::string path;
  bool clear = info.Length() < 2 || info[1].IsNull() || info[1].IsUndefined();
  if (!clear) path = ArgString(info, 1, "path");
  int err = bpf_map__set_pin_path(map, clear ? nullptr : path.c_str());
  if (err != 0) {
    ErrCtx ctx{st_->name, name, "", path};
    ThrowBpf(info.Env(), "bpf_map__set_pin_path", Errno(err), ctx);
  }
  return info.Env().Undefined();
}

Napi::Value ObjectHandle::SetMapMaxEntries(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "map");
  bpf_map* map = FindMap(info.Env(), name, "bpf_map__set_max_entries");
  int err = bpf_map__set_max_entries(map, ArgU32(info, 1, "maxEntries"));
  if (err != 0) ThrowBpf(info.Env(), "bpf_map__set_max_entries", Errno(err), ErrCtx{st_->name, name});
  return info.Env().Undefined();
}

Napi::Value ObjectHandle::SetMapInitialValue(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "map");
  bpf_map* map = FindMap(info.Env(), name, "bpf_map__set_initial_value");
  Napi::Buffer<uint8_t> buf = ArgBuffer(info, 1, "value");
  int err = bpf_map__set_initial_value(map, buf.Data(), buf.Length());
  if (err != 0) {
    ThrowBpf(info.Env(), "bpf_map__set_initial_value", Errno(err), ErrCtx{st_->name, name},
             "value is " + std::to_string(buf.Length()) + " bytes, map value is " +
                 std::to_string(bpf_map__value_size(map)));
  }
  return info.Env().Undefined();
}

Napi::Value ObjectHandle::ReuseMapFd(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "map");
  bpf_map* map = FindMap(info.Env(), name, "bpf_map__reuse_fd");
  int err = bpf_map__reuse_fd(map, static_cast<int>(ArgU32(info, 1, "fd")));
  if (err != 0) ThrowBpf(info.Env(), "bpf_map__reuse_fd", Errno(err), ErrCtx{st_->name, name});
  return info.Env().Undefined();
}

Napi::Value ObjectHandle::SetProgAutoload(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "program");
  bpf_object* obj = Checked(info.Env(), "bpf_program__set_autoload", false);
  bpf_program* prog = bpf_object__find_program_by_name(obj, name.c_str());
  ErrCtx ctx;
  ctx.object = st_->name;
  ctx.program = name;
  if (prog == nullptr) ThrowBpf(info.Env(), "bpf_program__set_autoload", ENOENT, ctx, "no program named '" + name + "'");
  int err = bpf_program__set_autoload(prog, info.Length() > 1 && info[1].ToBoolean().Value());
  if (err != 0) ThrowBpf(info.Env(), "bpf_program__set_autoload", Errno(err), ctx);
  return info.Env().Undefined();
}

// (path | null): with null, removes each map's own pin path (those set by pinning or pin root).
Napi::Value ObjectHandle::UnpinMaps(const Napi::CallbackInfo& info) {
  bpf_object* obj = Checked(info.Env(), "bpf_object__unpin_maps", false);
  std::string path;
  bool own = info.Length() < 1 || info[0].IsNull() || info[0].IsUndefined();
  if (!own) path = ArgString(info, 0, "path");
  int err = bpf_object__unpin_maps(obj, own ? nullptr : path.c_str());
  if (err != 0) {
    ErrCtx ctx;
    ctx.object = st_->name;
    ctx.path = path;
    ThrowBpf(info.Env(), "bpf_object__unpin_maps", Errno(err), ctx);
  }
  return info.Env().Undefined();
}

void InitObject(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = ObjectHandle::Define(env);
  data->objectCtor = Napi::Persistent(ctor);
  exports.Set("ObjectHandle", ctor);
}

}  // namespace lbts
