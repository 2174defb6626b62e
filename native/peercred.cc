// peerCred(fd) -> {pid, uid, gid}: the credentials of the process on the other
// end of a connected Unix socket, read with getsockopt(SO_PEERCRED). Node has
// no API for it; the agent uses it to decide who may apply a remediation.
#include <napi.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstring>
#include <string>

Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "peerCred(fd): fd must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct ucred cred;
  socklen_t len = sizeof(cred);
  std::memset(&cred, 0, sizeof(cred));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    int err = errno;
    Napi::Error e = Napi::Error::New(env, std::string("getsockopt(SO_PEERCRED): ") + std::strerror(err));
    e.Set("errno", Napi::Number::New(env, err));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, static_cast<double>(cred.pid)));
  o.Set("uid", Napi::Number::New(env, static_cast<double>(cred.uid)));
  o.Set("gid", Napi::Number::New(env, static_cast<double>(cred.gid)));
  return o;
}
