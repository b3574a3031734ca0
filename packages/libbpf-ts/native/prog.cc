// Programs by fd: info, pinning, and BPF_PROG_TEST_RUN.
#include <bpf/bpf.h>
#include <unistd.h>

#include <cstring>

#include "handles.h"

namespace lbts {
namespace {

class ProgHandle : public Napi::ObjectWrap<ProgHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ProgHandle",
                       {
                           InstanceMethod<&ProgHandle::Info>("info"),
                           InstanceMethod<&ProgHandle::Fd>("fd"),
                           InstanceMethod<&ProgHandle::Pin>("pin"),
                           InstanceMethod<&ProgHandle::TestRun>("testRun"),
                           InstanceMethod<&ProgHandle::Close>("close"),
                       });
  }

  // new ProgHandle(pinnedPath) | new ProgHandle(objectHandle, progName) | new ProgHandle(null, progId)
  explicit ProgHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProgHandle>(info) {
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
      int fd = bpf_prog_get_fd_by_id(id);
      if (fd < 0) ThrowBpf(env, "bpf_prog_get_fd_by_id", errno, ErrCtx{}, "program id " + std::to_string(id));
      fd_ = fd;
      owned_ = true;
      ReadInfo(env, "");
      return;
    }
    if (info.Length() >= 2 && info[0].IsObject() &&
        info[0].As<Napi::Object>().InstanceOf(data->objectCtor.Value())) {
      ObjectHandle* oh = ObjectHandle::Unwrap(info[0].As<Napi::Object>());
      std::string name = ArgString(info, 1, "program");
      bpf_object* obj = oh->Checked(env, "bpf_program__fd", true);
      bpf_program* prog = bpf_object__find_program_by_name(obj, name.c_str());
      ErrCtx ctx;
      ctx.object = oh->state()->name;
      ctx.program = name;
      if (prog == nullptr) {
        ThrowBpf(env, "bpf_object__find_program_by_name", ENOENT, ctx, "no program named '" + name + "' in object");
      }
      int fd = bpf_program__fd(prog);
      if (fd < 0) ThrowBpf(env, "bpf_program__fd", Errno(fd), ctx, "program was not loaded (autoload off?)");
      owner_ = oh->state();
      fd_ = fd;
      ReadInfo(env, "");
      name_ = name;  // the kernel truncates names to 15 bytes; keep the full one
      return;
    }
    throw Napi::TypeError::New(env, "ProgHandle(path) or ProgHandle(objectHandle, name) or ProgHandle(null, id)");
  }

  ~ProgHandle() override {
    if (owned_ && fd_ >= 0) close(fd_);
  }

 private:
  void ReadInfo(Napi::Env env, const std::string& path) {
    std::string kind = BpfFdKind(fd_);
    if (kind != "bpf-prog") {
      if (owned_) { close(fd_); fd_ = -1; }
      ErrCtx ctx;
      ctx.path = path;
      ThrowBpf(env, "bpf_obj_get_info_by_fd", EINVAL, ctx, "not a BPF program (" + kind + ")");
    }
    bpf_prog_info pi;
    memset(&pi, 0, sizeof pi);
    uint32_t len = sizeof pi;
    int err = bpf_obj_get_info_by_fd(fd_, &pi, &len);
    if (err != 0) {
      ErrCtx ctx;
      ctx.path = path;
      if (owned_) { close(fd_); fd_ = -1; }
      ThrowBpf(env, "bpf_obj_get_info_by_fd", Errno(err), ctx);
    }
    name_ = pi.name;
    type_ = pi.type;
    id_ = pi.id;
    static const char hex[] = "0123456789abcdef";
    for (uint8_t b : pi.tag) {
      tag_ += hex[b >> 4];
      tag_ += hex[b & 15];
    }
  }

  ErrCtx Ctx() const {
    ErrCtx c;
    if (owner_) c.object = owner_->name;
    c.program = name_;
    return c;
  }

  int LiveFd(Napi::Env env, const char* op) const {
    if (owner_ && owner_->obj == nullptr) ThrowBpf(env, op, EBADF, Ctx(), "the program's object is closed");
    if (fd_ < 0) ThrowBpf(env, op, EBADF, Ctx(), "program handle is closed");
    return fd_;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", name_);
    o.Set("id", Napi::Number::New(env, id_));
    o.Set("type", Napi::Number::New(env, type_));
    const char* tn = libbpf_bpf_prog_type_str(static_cast<bpf_prog_type>(type_));
    o.Set("typeName", tn ? tn : "unknown");
    o.Set("tag", tag_);
    if (owner_) o.Set("object", owner_->name);
    return o;
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), LiveFd(info.Env(), "fd")); }

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

  // ({ data?, repeat?, ctxIn?, ctxOutSize?, dataOutSize?, flags?, cpu? })
  //   -> { retval, durationNs, dataOut: Buffer | null, ctxOut?: Buffer }
  Napi::Value TestRun(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = LiveFd(env, "bpf_prog_test_run_opts");
    Napi::Object o = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    Napi::Value data = o.Get("data");
    uint32_t dataLen = 0;
    if (data.IsBuffer()) {
      Napi::Buffer<uint8_t> b = data.As<Napi::Buffer<uint8_t>>();
      opts.data_in = b.Data();
      dataLen = static_cast<uint32_t>(b.Length());
      opts.data_size_in = dataLen;
    } else if (!data.IsUndefined() && !data.IsNull()) {
      throw Napi::TypeError::New(env, "data must be a Buffer");
    }
    // Room for programs that grow the packet; 0 disables copying data out.
    uint32_t outSize = dataLen + 4096;
    OptU32(o, "dataOutSize", &outSize);
    std::vector<uint8_t> out(outSize);
    if (outSize > 0 && dataLen > 0) {
      opts.data_out = out.data();
      opts.data_size_out = outSize;
    }
    Napi::Value ctxIn = o.Get("ctxIn");
    if (ctxIn.IsBuffer()) {
      Napi::Buffer<uint8_t> b = ctxIn.As<Napi::Buffer<uint8_t>>();
      opts.ctx_in = b.Data();
      opts.ctx_size_in = static_cast<uint32_t>(b.Length());
    }
    uint32_t ctxOutSize = 0;
    OptU32(o, "ctxOutSize", &ctxOutSize);
    std::vector<uint8_t> ctxOut(ctxOutSize);
    if (ctxOutSize > 0) {
      opts.ctx_out = ctxOut.data();
      opts.ctx_size_out = ctxOutSize;
    }
    uint32_t repeat = 1, flags = 0, cpu = 0;
    OptU32(o, "repeat", &repeat);
    OptU32(o, "flags", &flags);
    OptU32(o, "cpu", &cpu);
    opts.repeat = static_cast<int>(repeat);
    opts.flags = flags;
    opts.cpu = cpu;
    int err = bpf_prog_test_run_opts(fd, &opts);
    if (err != 0) ThrowBpf(env, "bpf_prog_test_run_opts", Errno(err), Ctx());
    Napi::Object r = Napi::Object::New(env);
    r.Set("retval", Napi::Number::New(env, opts.retval));
    r.Set("durationNs", Napi::Number::New(env, opts.duration));
    if (opts.data_out != nullptr) {
      r.Set("dataOut", Napi::Buffer<uint8_t>::Copy(env, out.data(), opts.data_size_out));
    } else {
      r.Set("dataOut", env.Null());
    }
    if (ctxOutSize > 0) r.Set("ctxOut", Napi::Buffer<uint8_t>::Copy(env, ctxOut.data(), opts.ctx_size_out));
    return r;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (owned_ && fd_ >= 0) close(fd_);
    fd_ = -1;
    owner_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<ObjState> owner_;
  int fd_ = -1;
  bool owned_ = false;
  std::string name_, tag_;
  uint32_t type_ = 0, id_ = 0;
};

}  // namespace

void InitProg(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = ProgHandle::Define(env);
  data->progCtor = Napi::Persistent(ctor);
  exports.Set("ProgHandle", ctor);
}

}  // namespace lbts
