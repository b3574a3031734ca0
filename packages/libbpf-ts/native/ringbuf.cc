// Ring buffer consumer: the ring's epoll fd is watched by a uv_poll on the Node event loop, so
// records are read and handed to JS on the main thread without ever blocking it.
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <memory>

#include "common.h"

namespace lbts {
namespace {

// Returned by the sample callback to stop a consume early; libbpf has already advanced past the
// record, and the level-triggered epoll fd wakes the loop again for the rest.
constexpr int kBatchFull = -EAGAIN;

struct RbState {
  ring_buffer* rb = nullptr;
  int fd = -1;  // our own dup of the map fd, so the ring outlives the caller's handle
  uv_poll_t poll;
  bool pollInit = false;
  bool polling = false;
  bool closed = false;
  uint32_t maxBatch = 4096;
  std::string name;
  napi_env env = nullptr;
  Napi::FunctionReference cb;
  // Set only while a consume runs: where records go.
  Napi::Array* sink = nullptr;
  uint32_t count = 0;
};

int OnSample(void* ctx, void* data, size_t size) {
  RbState* st = static_cast<RbState*>(ctx);
  if (st->sink == nullptr) return 0;
  Napi::Env env(st->env);
  st->sink->Set(st->count++, Napi::Buffer<uint8_t>::Copy(env, static_cast<uint8_t*>(data), size));
  return st->count >= st->maxBatch ? kBatchFull : 0;
}

void FreeState(RbState* st) {
  if (st->rb != nullptr) ring_buffer__free(st->rb);
  if (st->fd >= 0) close(st->fd);
  delete st;
}

void OnClosed(uv_handle_t* h) { FreeState(static_cast<RbState*>(h->data)); }

// Runs one consume into a fresh array; returns libbpf's result (records or -errno).
int ConsumeInto(RbState* st, Napi::Array* arr) {
  st->sink = arr;
  st->count = 0;
  int r = ring_buffer__consume(st->rb);
  st->sink = nullptr;
  return r == kBatchFull ? static_cast<int>(st->count) : r;
}

void OnPoll(uv_poll_t* h, int status, int /*events*/) {
  RbState* st = static_cast<RbState*>(h->data);
  if (st->closed || st->cb.IsEmpty()) return;
  Napi::Env env(st->env);
  Napi::HandleScope scope(env);
  Napi::Array arr = Napi::Array::New(env);
  int r = status < 0 ? status : ConsumeInto(st, &arr);
  try {
    if (r < 0) {
      // Stop first so a persistent error cannot spin the loop; the callback decides what next.
      uv_poll_stop(&st->poll);
      st->polling = false;
      int e = r == status ? -status : Errno(r);
      st->cb.MakeCallback(env.Global(), {env.Null(), Napi::Number::New(env, e)});
    } else if (arr.Length() > 0) {
      st->cb.MakeCallback(env.Global(), {arr});
    }
  } catch (const Napi::Error& e) {
    // A throwing JS callback is an uncaught exception of the process, like any event emitter's.
    napi_fatal_exception(env, e.Value());
  }
}

class RingBufferHandle : public Napi::ObjectWrap<RingBufferHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingBufferHandle",
                       {
                           InstanceMethod<&RingBufferHandle::Start>("start"),
                           InstanceMethod<&RingBufferHandle::Stop>("stop"),
                           InstanceMethod<&RingBufferHandle::Consume>("consume"),
                           InstanceMethod<&RingBufferHandle::Close>("close"),
                       });
  }

  // new RingBufferHandle(mapFd, mapName, callback(records | null, errno?), maxBatch?)
  explicit RingBufferHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBufferHandle>(info) {
    Napi::Env env = info.Env();
    uint32_t mapFd = ArgU32(info, 0, "mapFd");
    std::string name = ArgString(info, 1, "mapName");
    if (info.Length() < 3 || !info[2].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");
    auto st = std::make_unique<RbState>();
    st->name = name;
    st->env = env;
    if (info.Length() > 3 && info[3].IsNumber()) st->maxBatch = std::max(1u, ArgU32(info, 3, "maxBatch"));
    ErrCtx ctx;
    ctx.map = name;
    st->fd = fcntl(static_cast<int>(mapFd), F_DUPFD_CLOEXEC, 0);
    if (st->fd < 0) ThrowBpf(env, "dup", errno, ctx);
    size_t mark = LogMark();
    st->rb = ring_buffer__new(st->fd, OnSample, st.get(), nullptr);
    if (st->rb == nullptr) {
      int e = errno;
      FreeState(st.release());
      ThrowBpf(env, "ring_buffer__new", e, ctx, "", mark);
    }
    st->cb = Napi::Persistent(info[2].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    int err = uv_poll_init(loop, &st->poll, ring_buffer__epoll_fd(st->rb));
    if (err != 0) {
      FreeState(st.release());
      ThrowBpf(env, "uv_poll_init", -err, ctx);
    }
    st->poll.data = st.get();
    st->pollInit = true;
    st_ = st.release();
  }

  ~RingBufferHandle() override { Shutdown(); }

 private:
  RbState* Live(Napi::Env env, const char* op) {
    if (st_ == nullptr) {
      ErrCtx ctx;
      ThrowBpf(env, op, EBADF, ctx, "ring buffer is closed");
    }
    return st_;
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    RbState* st = Live(info.Env(), "uv_poll_start");
    if (!st->polling) {
      int err = uv_poll_start(&st->poll, UV_READABLE, OnPoll);
      if (err != 0) {
        ErrCtx ctx;
        ctx.map = st->name;
        ThrowBpf(info.Env(), "uv_poll_start", -err, ctx);
      }
      st->polling = true;
    }
    if (!refd_) {
      Ref();  // a started consumer must not be collected while the kernel can still produce
      refd_ = true;
    }
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    RbState* st = Live(info.Env(), "uv_poll_stop");
    StopPolling(st);
    return info.Env().Undefined();
  }

  void StopPolling(RbState* st) {
    if (st->polling) {
      uv_poll_stop(&st->poll);
      st->polling = false;
    }
    if (refd_) {
      Unref();
      refd_ = false;
    }
  }

  // Synchronous drain into an array (no callback), e.g. after stop() or in tests.
  Napi::Value Consume(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RbState* st = Live(env, "ring_buffer__consume");
    Napi::Array arr = Napi::Array::New(env);
    uint32_t saved = st->maxBatch;
    st->maxBatch = UINT32_MAX;
    int r = ConsumeInto(st, &arr);
    st->maxBatch = saved;
    if (r < 0) {
      ErrCtx ctx;
      ctx.map = st->name;
      ThrowBpf(env, "ring_buffer__consume", Errno(r), ctx);
    }
    return arr;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (st_ != nullptr) StopPolling(st_);
    Shutdown();
    return info.Env().Undefined();
  }

  // Safe from inside the callback: no consume happens after this, and the ring itself is freed in
  // the uv close callback, after the current poll callback has returned.
  void Shutdown() {
    RbState* st = st_;
    if (st == nullptr) return;
    st_ = nullptr;
    st->closed = true;
    st->cb.Reset();
    if (st->polling) {
      uv_poll_stop(&st->poll);
      st->polling = false;
    }
    if (st->pollInit) {
      uv_close(reinterpret_cast<uv_handle_t*>(&st->poll), OnClosed);
    } else {
      FreeState(st);
    }
  }

  RbState* st_ = nullptr;
  bool refd_ = false;
};

}  // namespace

void InitRingBuffer(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = RingBufferHandle::Define(env);
  data->ringCtor = Napi::Persistent(ctor);
  exports.Set("RingBufferHandle", ctor);
}

}  // namespace lbts
