// xctl native addon entry: record layout, boot clock, and open() -> Session.
#include <napi.h>
#include <time.h>

#include <cctype>
#include <cstddef>
#include <string>

#include "../bpf/xctl_record.h"
#include "session.h"

Napi::Value PeerCred(const Napi::CallbackInfo& info);  // peercred.cc

static_assert(sizeof(xctl_record) == XCTL_RECORD_SIZE, "record must stay 128 bytes");
static_assert(sizeof(xctl_hdr) == 56, "header layout changed: bump XCTL_RECORD_VERSION");

namespace {

std::string Lower(const char* s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Napi::Value RecordLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", XCTL_RECORD_SIZE);
  o.Set("version", XCTL_RECORD_VERSION);
  // Offsets from this compiler of the fields the generator read from the header's BTF:
  // test/layout.test.ts checks they equal the TypeScript tables (host == BPF layout).
  Napi::Object off = Napi::Object::New(env);
#define XCTL_FIELD(key, member) off.Set(key, Napi::Number::New(env, offsetof(xctl_record, member)));
#include "xctl_fields.gen.h"
#undef XCTL_FIELD
  o.Set("offsets", off);
  // The kind table, expanded from XCTL_KINDS: name = NAME in lower case.
  Napi::Object kinds = Napi::Object::New(env);
#define XCTL_KIND_ENTRY(NAME, num, member, tag) kinds.Set(Lower(#NAME), Napi::Number::New(env, XCTL_KIND_##NAME));
  XCTL_KINDS(XCTL_KIND_ENTRY)
#undef XCTL_KIND_ENTRY
  o.Set("kinds", kinds);
  return o;
}

Napi::Value BootTimeNs(const Napi::CallbackInfo& info) {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec)));
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  return Session::constructor->New({info.Length() > 0 ? info[0] : info.Env().Undefined()});
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Session::Define(env);
  exports.Set("recordLayout", Napi::Function::New(env, RecordLayout));
  exports.Set("bootTimeNs", Napi::Function::New(env, BootTimeNs));
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("families", Napi::Function::New(env, Session::FamilyTable));
  exports.Set("peerCred", Napi::Function::New(env, PeerCred));
  return exports;
}

}  // namespace

NODE_API_MODULE(xctl, Init)
