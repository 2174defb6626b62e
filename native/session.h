// One probing session as seen from JS: the loaded families, their rings, the
// JS-owned batch buffers and the uv_poll that drains them on the libuv loop.
#pragma once
#include <napi.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "nvml.h"
#include "uprobes.h"
#include "probe_set.h"
#include "record_source.h"
#include "ring_reader.h"

class Session : public Napi::ObjectWrap<Session> {
 public:
  static Napi::Function Define(Napi::Env env);
  // addon.families(): the probe family table (probe_set.cc) for TypeScript.
  static Napi::Value FamilyTable(const Napi::CallbackInfo& info);
  // open(options) in addon.cc constructs through this.
  static Napi::FunctionReference* constructor;
  explicit Session(const Napi::CallbackInfo& info);
  ~Session() override;

 private:
  struct Buffer {
    Napi::Reference<Napi::ArrayBuffer> ref;
    uint8_t* data = nullptr;
    size_t capacity_records = 0;
  };

  Napi::Value Status(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SetConfig(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value ProgramStats(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value AttachLibrary(const Napi::CallbackInfo& info);
  Napi::Value DetachLibrary(const Napi::CallbackInfo& info);
  Napi::Value Libraries(const Napi::CallbackInfo& info);
  void ScanInflight();

  void StartPolling(Napi::Env env);
  // Drains every record source into buffers, calling JS once per full (or final) batch.
  // `from_loop`: called from libuv (MakeCallback) rather than from JS.
  size_t DrainAll(Napi::Env env, bool from_loop, size_t max_batches);
  bool DeliverBatch(Napi::Env env, size_t count, bool from_loop);
  bool Append(Napi::Env env, size_t n, bool from_loop, size_t* batches, size_t* total);
  void Shutdown();
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnAsync(uv_async_t* handle);
  static void CleanupHook(void* arg);

  Napi::Env env_;
  std::vector<std::unique_ptr<LoadedFamily>> families_;
  std::vector<std::unique_ptr<RingReader>> rings_;
  // rings_, then inflight_, then nvml_: what DrainAll empties, in that order
  std::vector<RecordSource*> sources_;
  std::vector<Buffer> buffers_;
  Napi::FunctionReference on_batch_;
  xctl_cfg cfg_;
  int epoll_fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  // GPU family: NVML threads queue records; async_ wakes the loop to drain them
  std::unique_ptr<NvmlSource> nvml_;
  LoadedFamily* gpu_family_ = nullptr;
  uv_async_t* async_ = nullptr;
  // cuda family: uprobes attached per library path; in-flight NCCL scan results
  std::unique_ptr<UprobeManager> uprobes_;
  LoadedFamily* cuda_family_ = nullptr;
  RecordQueue inflight_{65536};
  uint64_t inflight_threshold_ns_ = 10'000'000'000ULL;
  uint64_t last_scan_ns_ = 0;
  size_t current_ = 0;  // buffer being filled
  size_t filled_ = 0;   // records in buffers_[current_]
  uint32_t flagged_ = 0;  // of which carry XCTL_F_NO_OWNER
  bool stopped_ = false;
  bool draining_ = false;
  bool paused_ = false;
  uint64_t drain_ms_ = 0;
  uint64_t records_ = 0, batches_ = 0, bytes_ = 0, wakeups_ = 0, user_drops_ = 0;
};
