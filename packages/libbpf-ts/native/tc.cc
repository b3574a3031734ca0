// tc clsact hooks and BPF filters (libbpf's netlink helpers), optionally inside another network
// namespace: the calling thread enters it for the duration of the call only.
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common.h"

namespace lbts {
namespace {

// Enters a netns (a name under /run/netns or a path) and returns to the original one on scope exit.
class NetnsScope {
 public:
  NetnsScope(Napi::Env env, const Napi::Value& v, const char* op) {
    if (v.IsUndefined() || v.IsNull()) return;
    if (!v.IsString()) throw Napi::TypeError::New(env, "netns must be a string");
    std::string ns = v.As<Napi::String>().Utf8Value();
    std::string path = ns.find('/') == std::string::npos ? "/run/netns/" + ns : ns;
    ErrCtx ctx;
    ctx.path = path;
    FdGuard target(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (target.get() < 0) ThrowBpf(env, op, errno, ctx, "cannot open network namespace");
    FdGuard self(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (self.get() < 0) ThrowBpf(env, op, errno, ctx, "cannot open own network namespace");
    if (setns(target.get(), CLONE_NEWNET) != 0) ThrowBpf(env, op, errno, ctx, "setns failed");
    saved_ = self.release();
  }
  ~NetnsScope() {
    if (saved_ < 0) return;
    // Staying in the wrong namespace would silently misdirect every later socket of this thread.
    if (setns(saved_, CLONE_NEWNET) != 0) {
      perror("libbpf-ts: cannot return to the original network namespace");
      abort();
    }
    close(saved_);
  }
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

 private:
  int saved_ = -1;
};

bpf_tc_attach_point Where(Napi::Env env, const Napi::Value& v) {
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "ingress") return BPF_TC_INGRESS;
  if (s == "egress") return BPF_TC_EGRESS;
  if (s == "both") return static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
  throw Napi::RangeError::New(env, "attach point must be 'ingress', 'egress' or 'both'");
}

ErrCtx IfCtx(uint32_t ifindex) {
  ErrCtx c;
  c.path = "ifindex " + std::to_string(ifindex);
  return c;
}

// (name, netns?) -> ifindex
Napi::Value IfIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "name");
  NetnsScope ns(env, info[1], "if_nametoindex");
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) {
    ErrCtx c;
    c.path = name;
    ThrowBpf(env, "if_nametoindex", errno, c);
  }
  return Napi::Number::New(env, idx);
}

// (ifindex, where, netns?) -> true if created, false if a clsact qdisc was already there
Napi::Value HookCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = ArgU32(info, 0, "ifindex");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = Where(env, info[1]));
  NetnsScope ns(env, info[2], "bpf_tc_hook_create");
  int err = bpf_tc_hook_create(&hook);
  if (err == -EEXIST) return Napi::Boolean::New(env, false);
  if (err != 0) ThrowBpf(env, "bpf_tc_hook_create", Errno(err), IfCtx(ifindex));
  return Napi::Boolean::New(env, true);
}

// (ifindex, where, netns?): 'both' removes the clsact qdisc with every filter on it; one direction
// flushes that direction's filters.
Napi::Value HookDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = ArgU32(info, 0, "ifindex");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = Where(env, info[1]));
  NetnsScope ns(env, info[2], "bpf_tc_hook_destroy");
  int err = bpf_tc_hook_destroy(&hook);
  if (err != 0) ThrowBpf(env, "bpf_tc_hook_destroy", Errno(err), IfCtx(ifindex));
  return env.Undefined();
}

// (ifindex, dir, progFd, { handle?, priority?, replace? }, netns?) -> { handle, priority, progId }
Napi::Value Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = ArgU32(info, 0, "ifindex");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = Where(env, info[1]));
  if (hook.attach_point != BPF_TC_INGRESS && hook.attach_point != BPF_TC_EGRESS) {
    throw Napi::RangeError::New(env, "attach needs 'ingress' or 'egress'");
  }
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = static_cast<int>(ArgU32(info, 2, "progFd")));
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    OptU32(o, "handle", &opts.handle);
    OptU32(o, "priority", &opts.priority);
    if (o.Get("replace").ToBoolean().Value()) opts.flags = BPF_TC_F_REPLACE;
  }
  NetnsScope ns(env, info[4], "bpf_tc_attach");
  int err = bpf_tc_attach(&hook, &opts);
  if (err != 0) ThrowBpf(env, "bpf_tc_attach", Errno(err), IfCtx(ifindex));
  Napi::Object r = Napi::Object::New(env);
  r.Set("handle", Napi::Number::New(env, opts.handle));
  r.Set("priority", Napi::Number::New(env, opts.priority));
  r.Set("progId", Napi::Number::New(env, opts.prog_id));
  return r;
}

// (ifindex, dir, handle, priority, netns?)
Napi::Value Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = ArgU32(info, 0, "ifindex");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = Where(env, info[1]));
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = ArgU32(info, 2, "handle"), .priority = ArgU32(info, 3, "priority"));
  NetnsScope ns(env, info[4], "bpf_tc_detach");
  int err = bpf_tc_detach(&hook, &opts);
  if (err != 0) ThrowBpf(env, "bpf_tc_detach", Errno(err), IfCtx(ifindex));
  return env.Undefined();
}

// (ifindex, dir, handle, priority, netns?) -> progId, or null when nothing is attached there
Napi::Value Query(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = ArgU32(info, 0, "ifindex");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = Where(env, info[1]));
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = ArgU32(info, 2, "handle"), .priority = ArgU32(info, 3, "priority"));
  NetnsScope ns(env, info[4], "bpf_tc_query");
  int err = bpf_tc_query(&hook, &opts);
  if (err == -ENOENT || err == -EINVAL) {
    // ENOENT: no such filter; EINVAL: no clsact qdisc on the device at all.
    return env.Null();
  }
  if (err != 0) ThrowBpf(env, "bpf_tc_query", Errno(err), IfCtx(ifindex));
  return Napi::Number::New(env, opts.prog_id);
}

}  // namespace

void InitTc(Napi::Env env, Napi::Object exports) {
  exports.Set("ifIndex", Napi::Function::New(env, IfIndex));
  exports.Set("tcHookCreate", Napi::Function::New(env, HookCreate));
  exports.Set("tcHookDestroy", Napi::Function::New(env, HookDestroy));
  exports.Set("tcAttach", Napi::Function::New(env, Attach));
  exports.Set("tcDetach", Napi::Function::New(env, Detach));
  exports.Set("tcQuery", Napi::Function::New(env, Query));
}

}  // namespace lbts
