// libbpf's print callback: messages are captured (not written to stderr) so load failures can carry
// the verifier log and the JS side can route the rest to its own logger.
#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>

#include "common.h"

namespace lbts {
namespace {

struct Entry {
  int level;
  std::string text;
};

// Bounded so a chatty debug level cannot grow memory without limit when nobody drains.
constexpr size_t kMaxBytes = 4 << 20;
std::vector<Entry> g_entries;
size_t g_bytes = 0;
size_t g_base = 0;  // number of entries dropped or drained before g_entries[0]
int g_maxLevel = LIBBPF_INFO;

int Print(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (static_cast<int>(level) > g_maxLevel) return 0;
  char buf[1024];
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(buf, sizeof buf, fmt, copy);
  va_end(copy);
  std::string text;
  if (n < 0) return 0;
  if (static_cast<size_t>(n) < sizeof buf) {
    text.assign(buf, n);
  } else {
    text.resize(n + 1);
    vsnprintf(text.data(), text.size(), fmt, ap);
    text.resize(n);
  }
  while (g_bytes + text.size() > kMaxBytes && !g_entries.empty()) {
    g_bytes -= g_entries.front().text.size();
    g_entries.erase(g_entries.begin());
    g_base++;
  }
  g_bytes += text.size();
  g_entries.push_back({static_cast<int>(level), std::move(text)});
  return n;
}

}  // namespace

void InstallLogCapture() { libbpf_set_print(Print); }

size_t LogMark() { return g_base + g_entries.size(); }

std::string LogSince(size_t mark) {
  std::string out;
  for (size_t i = mark > g_base ? mark - g_base : 0; i < g_entries.size(); i++) out += g_entries[i].text;
  return out;
}

Napi::Value TakeLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array arr = Napi::Array::New(env, g_entries.size());
  static const char* names[] = {"warn", "info", "debug"};
  for (size_t i = 0; i < g_entries.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("level", names[g_entries[i].level]);
    o.Set("message", g_entries[i].text);
    arr.Set(i, o);
  }
  g_base += g_entries.size();
  g_entries.clear();
  g_bytes = 0;
  return arr;
}

Napi::Value SetLogLevel(const Napi::CallbackInfo& info) {
  std::string level = ArgString(info, 0, "level");
  if (level == "warn") g_maxLevel = LIBBPF_WARN;
  else if (level == "info") g_maxLevel = LIBBPF_INFO;
  else if (level == "debug") g_maxLevel = LIBBPF_DEBUG;
  else throw Napi::RangeError::New(info.Env(), "level must be warn, info or debug");
  return info.Env().Undefined();
}

}  // namespace lbts
