// GPU telemetry through NVML, loaded at run time with dlopen (never linked):
// a sampling thread (per-GPU samples + per-process GPU memory) and an event
// thread (Xid, ECC, GPU unavailable) produce 128-byte xctl records into a
// queue that the session drains into the same JS batches as the BPF rings.
// Without NVML, a GPU, permission or a matching driver, Start() fails with
// the exact reason and nothing else changes.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../bpf/xctl_record.h"
#include "probe_set.h"
#include "record_source.h"

struct NvmlOptions {
  std::string library;        // empty: $XCTL_NVML_LIBRARY, else libnvidia-ml.so.1
  uint32_t interval_ms = 1000;
  size_t max_queue = 65536;   // records; beyond this new ones are dropped (counted)
};

struct NvmlApi;

class NvmlSource : public RecordSource {
 public:
  explicit NvmlSource(const std::string& family);  // the family name its status reports
  ~NvmlSource() override;
  // Loads NVML, enumerates GPUs, starts the threads. On failure returns false
  // and Status() says why ("NVML unavailable: ..."). `wake` is called (from a
  // worker thread) after records were queued.
  bool Start(const NvmlOptions& opts, std::function<void()> wake);
  void Stop();
  // Moves up to `max` queued records to dst; returns how many.
  size_t Drain(uint8_t* dst, size_t max, uint64_t* bad, uint32_t* flagged) override;
  size_t Pending();
  FamilyStatus Status();
  uint64_t Drops() const { return drops_.load(); }
  uint64_t Samples() const { return samples_.load(); }
  uint64_t SampleNs() const { return sample_ns_.load(); }
  uint64_t Events() const { return events_.load(); }
  uint32_t Gpus() const { return static_cast<uint32_t>(gpus_.size()); }
  std::string Library() const { return library_; }
  std::string Driver() const { return driver_; }

 private:
  struct Gpu {
    void* handle = nullptr;
    uint32_t index = 0;
    std::string uuid, name;
    uint32_t uuid_hash = 0;
    bool lost = false;
  };
  void SampleLoop();
  void EventLoop();
  void SampleOnce();
  void Push(const xctl_record& r);
  void Header(xctl_record* r, uint16_t kind, uint32_t pid, const std::string& comm);
  std::string Err(int ret);

  NvmlApi* api_ = nullptr;
  void* dl_ = nullptr;
  std::string library_, driver_;
  NvmlOptions opts_;
  std::vector<Gpu> gpus_;
  std::function<void()> wake_;
  std::mutex mu_;
  std::deque<xctl_record> queue_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::atomic<bool> stop_{false};
  std::thread sampler_, events_thread_;
  bool inited_ = false;
  void* event_set_ = nullptr;
  std::mutex status_mu_;
  FamilyStatus status_;
  std::atomic<uint64_t> drops_{0}, samples_{0}, sample_ns_{0}, events_{0};
};
