// Map access by fd: element ops, batches (with a per-element fallback), iteration, info, pinning.
// Every key and value is checked against the map's sizes here, because the kernel reads exactly
// key_size/value_size bytes from the pointers it is given.
#include <bpf/bpf.h>
#include <unistd.h>

#include <cstring>

#include "handles.h"

namespace lbts {
namespace {

constexpr int kENOTSUPP = 524;  // kernel-internal "operation not supported" some map types return

bool IsPerCpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

class MapHandle : public Napi::ObjectWrap<MapHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MapHandle",
                       {
                           InstanceMethod<&MapHandle::Info>("info"),
                           InstanceMethod<&MapHandle::Fd>("fd"),
                           InstanceMethod<&MapHandle::Lookup>("lookup"),
                           InstanceMethod<&MapHandle::LookupAndDelete>("lookupAndDelete"),
                           InstanceMethod<&MapHandle::Update>("update"),
                           InstanceMethod<&MapHandle::Delete>("delete"),
                           InstanceMethod<&MapHandle::NextKey>("nextKey"),
                           InstanceMethod<&MapHandle::Keys>("keys"),
                           InstanceMethod<&MapHandle::Entries>("entries"),
                           InstanceMethod<&MapHandle::UpdateBatch>("updateBatch"),
                           InstanceMethod<&MapHandle::DeleteBatch>("deleteBatch"),
                           InstanceMethod<&MapHandle::Pin>("pin"),
                           InstanceMethod<&MapHandle::Close>("close"),
                       });
  }

  // new MapHandle(pinnedPath) | new MapHandle(objectHandle, mapName) | new MapHandle(null, mapId)
  explicit MapHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MapHandle>(info) {
    Napi::Env env = info.Env();
    AddonData* data = env.GetInstanceData<AddonData>();
    if (info.Length() >= 1 && info[0].IsString()) {
      std::string path = ArgString(info, 0, "path");
      int fd = bpf_obj_get(path.c_str());
      if (fd < 0) {
        ErrCtx ctx;
        ctx.path = path;
        ThrowBpf(env, "bpf_obj_get", errno, ctx);
      }
      fd_ = fd;
      owned_ = true;
      ReadInfo(env, path);
      return;
    }
    if (info.Length() >= 2 && info[0].IsNull()) {
      uint32_t id = ArgU32(info, 1, "id");
      int fd = bpf_map_get_fd_by_id(id);
      if (fd < 0) ThrowBpf(env, "bpf_map_get_fd_by_id", errno, ErrCtx{}, "map id " + std::to_string(id));
      fd_ = fd;
      owned_ = true;
      ReadInfo(env, "");
      return;
    }
    if (info.Length() >= 2 && info[0].IsObject() &&
        info[0].As<Napi::Object>().InstanceOf(data->objectCtor.Value())) {
      ObjectHandle* oh = ObjectHandle::Unwrap(info[0].As<Napi::Object>());
      std::string name = ArgString(info, 1, "map");
      bpf_object* obj = oh->Checked(env, "bpf_map__fd", true);
      bpf_map* map = bpf_object__find_map_by_name(obj, name.c_str());
      ErrCtx ctx;
      ctx.object = oh->state()->name;
      ctx.map = name;
      if (map == nullptr) ThrowBpf(env, "bpf_object__find_map_by_name", ENOENT, ctx, "no map named '" + name + "' in object");
      int fd = bpf_map__fd(map);
      if (fd < 0) ThrowBpf(env, "bpf_map__fd", Errno(fd), ctx, "map was not created (autocreate off?)");
      owner_ = oh->state();
      fd_ = fd;
      ReadInfo(env, "");
      if (name_.empty()) name_ = name;
      return;
    }
    throw Napi::TypeError::New(env, "MapHandle(path) or MapHandle(objectHandle, name) or MapHandle(null, id)");
  }

  ~MapHandle() override {
    if (owned_ && fd_ >= 0) close(fd_);
  }

 private:
  void ReadInfo(Napi::Env env, const std::string& path) {
    std::string kind = BpfFdKind(fd_);
    if (kind != "bpf-map") {
      if (owned_) { close(fd_); fd_ = -1; }
      ErrCtx ctx;
      ctx.path = path;
      ThrowBpf(env, "bpf_obj_get_info_by_fd", EINVAL, ctx, "not a BPF map (" + kind + ")");
    }
    bpf_map_info mi;
    memset(&mi, 0, sizeof mi);
    uint32_t len = sizeof mi;
    int err = bpf_obj_get_info_by_fd(fd_, &mi, &len);
    if (err != 0) {
      ErrCtx ctx;
      ctx.path = path;
      if (owned_) { close(fd_); fd_ = -1; }
      ThrowBpf(env, "bpf_obj_get_info_by_fd", Errno(err), ctx, path.empty() ? "" : "not a BPF map?");
    }
    name_ = mi.name;
    type_ = mi.type;
    id_ = mi.id;
    keySize_ = mi.key_size;
    valueSize_ = mi.value_size;
    maxEntries_ = mi.max_entries;
    flags_ = mi.map_flags;
    if (IsPerCpu(type_)) {
      int n = libbpf_num_possible_cpus();
      if (n <= 0) ThrowBpf(env, "libbpf_num_possible_cpus", Errno(n), Ctx());
      ncpu_ = static_cast<uint32_t>(n);
      stride_ = (valueSize_ + 7) & ~7u;
      valueTotal_ = stride_ * ncpu_;
    } else {
      ncpu_ = 0;
      stride_ = valueSize_;
      valueTotal_ = valueSize_;
    }
  }

  ErrCtx Ctx(int64_t index = -1) const {
    ErrCtx c;
    if (owner_) c.object = owner_->name;
    c.map = name_;
    c.index = index;
    return c;
  }

  int LiveFd(Napi::Env env, const char* op) const {
    if (owner_ && owner_->obj == nullptr) ThrowBpf(env, op, EBADF, Ctx(), "the map's object is closed");
    if (fd_ < 0) ThrowBpf(env, op, EBADF, Ctx(), "map handle is closed");
    return fd_;
  }

  const void* KeyArg(const Napi::CallbackInfo& info, size_t i, const char* op) const {
    if (keySize_ == 0 && (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined())) return nullptr;
    Napi::Buffer<uint8_t> k = ArgBuffer(info, i, "key");
    if (k.Length() != keySize_) {
      ThrowBpf(info.Env(), op, EINVAL, Ctx(),
               "key is " + std::to_string(k.Length()) + " bytes, map '" + name_ + "' expects " +
                   std::to_string(keySize_));
    }
    return keySize_ == 0 ? nullptr : k.Data();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", name_);
    o.Set("id", Napi::Number::New(env, id_));
    o.Set("type", Napi::Number::New(env, type_));
    const char* tn = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(type_));
    o.Set("typeName", tn ? tn : "unknown");
    o.Set("keySize", Napi::Number::New(env, keySize_));
    o.Set("valueSize", Napi::Number::New(env, valueSize_));
    o.Set("maxEntries", Napi::Number::New(env, maxEntries_));
    o.Set("flags", Napi::Number::New(env, flags_));
    o.Set("perCpu", Napi::Boolean::New(env, ncpu_ > 0));
    o.Set("possibleCpus", Napi::Number::New(env, ncpu_));
    o.Set("valueStride", Napi::Number::New(env, stride_));
    if (owner_) o.Set("object", owner_->name);
    return o;
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), LiveFd(info.Env(), "fd")); }

  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "bpf_map_lookup_elem");
    const void* key = KeyArg(info, 0, "bpf_map_lookup_elem");
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, valueTotal_);
    if (bpf_map_lookup_elem(fd, key, out.Data()) != 0) {
      if (errno == ENOENT) return env.Null();
      ThrowBpf(env, "bpf_map_lookup_elem", errno, Ctx());
    }
    return out;
  }

  Napi::Value LookupAndDelete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "bpf_map_lookup_and_delete_elem");
    const void* key = KeyArg(info, 0, "bpf_map_lookup_and_delete_elem");
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, valueTotal_);
    if (bpf_map_lookup_and_delete_elem(fd, key, out.Data()) != 0) {
      if (errno == ENOENT) return env.Null();
      ThrowBpf(env, "bpf_map_lookup_and_delete_elem", errno, Ctx());
    }
    return out;
  }

  // (key, value, flags): value is the whole per-CPU array for per-CPU maps.
  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "bpf_map_update_elem");
    const void* key = KeyArg(info, 0, "bpf_map_update_elem");
    Napi::Buffer<uint8_t> v = ArgBuffer(info, 1, "value");
    CheckValue(env, v.Length(), "bpf_map_update_elem");
    uint32_t flags = info.Length() > 2 ? ArgU32(info, 2, "flags") : static_cast<uint32_t>(BPF_ANY);
    if (bpf_map_update_elem(fd, key, v.Data(), flags) != 0) ThrowBpf(env, "bpf_map_update_elem", errno, Ctx());
    return env.Undefined();
  }

  void CheckValue(Napi::Env env, size_t len, const char* op) const {
    if (len != valueTotal_) {
      std::string what = ncpu_ > 0 ? std::to_string(ncpu_) + " CPUs x " + std::to_string(stride_) + " bytes = " +
                                         std::to_string(valueTotal_)
                                   : std::to_string(valueTotal_);
      ThrowBpf(env, op, EINVAL, Ctx(),
               "value is " + std::to_string(len) + " bytes, map '" + name_ + "' expects " + what);
    }
  }

  Napi::Value Delete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "bpf_map_delete_elem");
    const void* key = KeyArg(info, 0, "bpf_map_delete_elem");
    if (bpf_map_delete_elem(fd, key) != 0) {
      if (errno == ENOENT) return Napi::Boolean::New(env, false);
      ThrowBpf(env, "bpf_map_delete_elem", errno, Ctx());
    }
    return Napi::Boolean::New(env, true);
  }

  // (key | null) -> the key after it, or null at the end.
  Napi::Value NextKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "bpf_map_get_next_key");
    const void* key = nullptr;
    if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined()) key = KeyArg(info, 0, "bpf_map_get_next_key");
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, keySize_);
    if (bpf_map_get_next_key(fd, key, out.Data()) != 0) {
      if (errno == ENOENT) return env.Null();
      ThrowBpf(env, "bpf_map_get_next_key", errno, Ctx());
    }
    return out;
  }

  // Walks the map in native code. A hash walk restarts when the current key is deleted under it, so
  // the walk is capped rather than trusted to terminate.
  template <typename Fn>
  void Walk(Napi::Env env, Fn&& fn) {
    int fd = LiveFd(env, "bpf_map_get_next_key");
    std::vector<uint8_t> cur(keySize_), next(keySize_);
    bool first = true;
    uint64_t cap = static_cast<uint64_t>(maxEntries_) * 2 + 16;
    for (uint64_t n = 0; n < cap; n++) {
      if (bpf_map_get_next_key(fd, first ? nullptr : cur.data(), next.data()) != 0) {
        if (errno == ENOENT) return;
        ThrowBpf(env, "bpf_map_get_next_key", errno, Ctx());
      }
      first = false;
      cur.swap(next);
      if (!fn(fd, cur)) return;
    }
  }

  Napi::Value Keys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array arr = Napi::Array::New(env);
    uint32_t i = 0;
    Walk(env, [&](int, const std::vector<uint8_t>& k) {
      arr.Set(i++, Napi::Buffer<uint8_t>::Copy(env, k.data(), k.size()));
      return true;
    });
    return arr;
  }

  // -> [[key, value], ...]; entries deleted during the walk are skipped.
  Napi::Value Entries(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array arr = Napi::Array::New(env);
    uint32_t i = 0;
    std::vector<uint8_t> v(valueTotal_);
    Walk(env, [&](int fd, const std::vector<uint8_t>& k) {
      if (bpf_map_lookup_elem(fd, k.data(), v.data()) != 0) {
        if (errno == ENOENT) return true;
        ThrowBpf(env, "bpf_map_lookup_elem", errno, Ctx());
      }
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Buffer<uint8_t>::Copy(env, k.data(), k.size()));
      pair.Set(1u, Napi::Buffer<uint8_t>::Copy(env, v.data(), v.size()));
      arr.Set(i++, pair);
      return true;
    });
    return arr;
  }

  static bool Unsupported(int e) { return e == EINVAL || e == kENOTSUPP || e == EOPNOTSUPP; }

  // (keys, values, count, flags) with keys/values concatenated; -> true if the kernel batch op was
  // used, false if the per-element fallback ran.
  Napi::Value UpdateBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "bpf_map_update_batch");
    Napi::Buffer<uint8_t> keys = ArgBuffer(info, 0, "keys");
    Napi::Buffer<uint8_t> values = ArgBuffer(info, 1, "values");
    uint32_t count = ArgU32(info, 2, "count");
    uint32_t flags = info.Length() > 3 ? ArgU32(info, 3, "flags") : static_cast<uint32_t>(BPF_ANY);
    if (keys.Length() != static_cast<size_t>(count) * keySize_ ||
        values.Length() != static_cast<size_t>(count) * valueTotal_) {
      ThrowBpf(env, "bpf_map_update_batch", EINVAL, Ctx(),
               std::to_string(count) + " elements need " + std::to_string(count * keySize_) + " key bytes and " +
                   std::to_string(static_cast<size_t>(count) * valueTotal_) + " value bytes for map '" + name_ + "'");
    }
    if (count == 0) return Napi::Boolean::New(env, true);
    // The kernel batch takes no NOEXIST/EXIST element flags (only BPF_F_LOCK): loop for those.
    if ((flags & ~static_cast<uint32_t>(BPF_F_LOCK)) == 0) {
      LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = flags);
      uint32_t done = count;
      int err = bpf_map_update_batch(fd, keys.Data(), values.Data(), &done, &opts);
      if (err == 0) return Napi::Boolean::New(env, true);
      int e = Errno(err);
      if (done == count) done = 0;  // rejected before any element: the count was never written back
      if (!(Unsupported(e) && done == 0)) ThrowBpf(env, "bpf_map_update_batch", e, Ctx(done));
    }
    for (uint32_t i = 0; i < count; i++) {
      if (bpf_map_update_elem(fd, keys.Data() + static_cast<size_t>(i) * keySize_,
                              values.Data() + static_cast<size_t>(i) * valueTotal_, flags) != 0) {
        ThrowBpf(env, "bpf_map_update_elem", errno, Ctx(i));
      }
    }
    return Napi::Boolean::New(env, false);
  }

  // (keys, count) -> number of keys that existed and were deleted; missing keys are skipped.
  Napi::Value DeleteBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "bpf_map_delete_batch");
    Napi::Buffer<uint8_t> keys = ArgBuffer(info, 0, "keys");
    uint32_t count = ArgU32(info, 1, "count");
    if (keys.Length() != static_cast<size_t>(count) * keySize_) {
      ThrowBpf(env, "bpf_map_delete_batch", EINVAL, Ctx(),
               std::to_string(count) + " keys need " + std::to_string(count * keySize_) + " bytes for map '" + name_ + "'");
    }
    uint32_t deleted = 0, start = 0;
    bool batch = true;
    while (batch && start < count) {
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      uint32_t n = count - start;
      int err = bpf_map_delete_batch(fd, keys.Data() + static_cast<size_t>(start) * keySize_, &n, &opts);
      if (err == 0) return Napi::Number::New(env, deleted + n);
      int e = Errno(err);
      if (n == count - start) n = 0;  // rejected before any element
      deleted += n;
      if (e == ENOENT) {
        start += n + 1;  // the key at start+n is absent: skip it and go on
      } else if (Unsupported(e) && n == 0) {
        batch = false;
      } else {
        ThrowBpf(env, "bpf_map_delete_batch", e, Ctx(start + n));
      }
    }
    for (uint32_t i = start; i < count; i++) {
      if (bpf_map_delete_elem(fd, keys.Data() + static_cast<size_t>(i) * keySize_) == 0) {
        deleted++;
      } else if (errno != ENOENT) {
        ThrowBpf(env, "bpf_map_delete_elem", errno, Ctx(i));
      }
    }
    return Napi::Number::New(env, deleted);
  }

  Napi::Value Pin(const Napi::CallbackInfo& info) {
    int fd = LiveFd(info.Env(), "bpf_obj_pin");
    std::string path = ArgString(info, 0, "path");
    if (bpf_obj_pin(fd, path.c_str()) != 0) {
      ErrCtx c = Ctx();
      c.path = path;
      ThrowBpf(info.Env(), "bpf_obj_pin", errno, c);
    }
    return info.Env().Undefined();
  }

  // Releases an fd this handle owns; a map borrowed from an object is released with the object.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (owned_ && fd_ >= 0) close(fd_);
    fd_ = -1;
    owner_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<ObjState> owner_;
  int fd_ = -1;
  bool owned_ = false;
  std::string name_;
  uint32_t type_ = 0, id_ = 0, keySize_ = 0, valueSize_ = 0, maxEntries_ = 0, flags_ = 0;
  uint32_t ncpu_ = 0, stride_ = 0, valueTotal_ = 0;
};

}  // namespace

void InitMap(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = MapHandle::Define(env);
  data->mapCtor = Napi::Persistent(ctor);
  exports.Set("MapHandle", ctor);
}

}  // namespace lbts
