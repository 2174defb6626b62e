#include "nvml.h"

#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace {

// nvml.h types, as the x86-64 ABI lays them out (../shared/reference/gpu.md).
typedef int nvmlReturn_t;
typedef void* nvmlDevice_t;
typedef void* nvmlEventSet_t;
struct nvmlMemory_t { unsigned long long total, free, used; };
struct nvmlUtilization_t { unsigned int gpu, memory; };
struct nvmlEventData_t {
  nvmlDevice_t device;
  unsigned long long eventType, eventData;
  unsigned int gpuInstanceId, computeInstanceId;
};
static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t");
static_assert(sizeof(nvmlEventData_t) == 32, "nvmlEventData_t");

constexpr nvmlReturn_t kSuccess = 0, kNotSupported = 3, kInsufficientSize = 7, kTimeout = 10, kGpuIsLost = 15,
                       kResetRequired = 16;
constexpr unsigned long long kValueNotAvailable = ~0ULL;
constexpr unsigned long long kEventTypes =
    XCTL_NVML_EV_SBE | XCTL_NVML_EV_DBE | XCTL_NVML_EV_XID | XCTL_NVML_EV_GPU_UNAVAILABLE;
constexpr uint32_t kEventWaitMs = 200;  // bounds how long Stop() waits for the event thread

uint64_t BootNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t MonoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

uint32_t Fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string Comm(uint32_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(f, s);
  return s;
}

}  // namespace

struct NvmlApi {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*driver_version)(char*, unsigned) = nullptr;
  nvmlReturn_t (*count)(unsigned*) = nullptr;
  nvmlReturn_t (*handle_by_index)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*procs)(nvmlDevice_t, unsigned*, void*) = nullptr;
  size_t procs_stride = 24;  // _v3/_v2: 24 bytes; the unversioned v1 entry point: 16
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*clock_reasons)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*ecc)(nvmlDevice_t, int, int, unsigned long long*) = nullptr;
  nvmlReturn_t (*remapped)(nvmlDevice_t, unsigned*, unsigned*, unsigned*, unsigned*) = nullptr;
  nvmlReturn_t (*pcie_replays)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*event_create)(nvmlEventSet_t*) = nullptr;
  nvmlReturn_t (*register_events)(nvmlDevice_t, unsigned long long, nvmlEventSet_t) = nullptr;
  nvmlReturn_t (*event_wait)(nvmlEventSet_t, nvmlEventData_t*, unsigned) = nullptr;
  nvmlReturn_t (*event_free)(nvmlEventSet_t) = nullptr;
};

namespace {
// The first of `names` the library exports (versioned first, then the plain name).
template <typename F>
bool Sym(void* dl, F* out, std::initializer_list<const char*> names, std::string* which = nullptr) {
  for (const char* n : names) {
    void* p = dlsym(dl, n);
    if (p) {
      *out = reinterpret_cast<F>(p);
      if (which) *which = n;
      return true;
    }
  }
  return false;
}
}  // namespace

NvmlSource::NvmlSource(const std::string& family) { status_.family = family; }

NvmlSource::~NvmlSource() { Stop(); }

std::string NvmlSource::Err(int ret) {
  const char* s = api_ && api_->error_string ? api_->error_string(ret) : nullptr;
  return std::string(s ? s : "unknown error") + " (" + std::to_string(ret) + ")";
}

bool NvmlSource::Start(const NvmlOptions& opts, std::function<void()> wake) {
  opts_ = opts;
  if (opts_.interval_ms == 0) opts_.interval_ms = 1000;
  wake_ = std::move(wake);
  library_ = opts.library;
  if (library_.empty()) {
    const char* env = getenv("XCTL_NVML_LIBRARY");
    library_ = env && *env ? env : "libnvidia-ml.so.1";
  }
  auto fail = [&](const std::string& why) {
    std::lock_guard<std::mutex> g(status_mu_);
    status_.loaded = false;
    status_.error = "NVML unavailable: " + why;
    return false;
  };
  dl_ = dlopen(library_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!dl_) {
    const char* e = dlerror();
    return fail(e ? e : library_ + ": dlopen failed");
  }
  api_ = new NvmlApi();
  NvmlApi& a = *api_;
  std::string missing;
  auto need = [&](bool ok, const char* what) {
    if (!ok) missing += (missing.empty() ? "" : ", ") + std::string(what);
  };
  need(Sym(dl_, &a.init, {"nvmlInit_v2", "nvmlInit"}), "nvmlInit_v2");
  need(Sym(dl_, &a.shutdown, {"nvmlShutdown"}), "nvmlShutdown");
  need(Sym(dl_, &a.error_string, {"nvmlErrorString"}), "nvmlErrorString");
  need(Sym(dl_, &a.count, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"}), "nvmlDeviceGetCount_v2");
  need(Sym(dl_, &a.handle_by_index, {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"}),
       "nvmlDeviceGetHandleByIndex_v2");
  if (!missing.empty()) return fail(library_ + " lacks " + missing + " (not an NVML library, or too old)");
  Sym(dl_, &a.driver_version, {"nvmlSystemGetDriverVersion"});
  Sym(dl_, &a.uuid, {"nvmlDeviceGetUUID"});
  Sym(dl_, &a.name, {"nvmlDeviceGetName"});
  Sym(dl_, &a.memory, {"nvmlDeviceGetMemoryInfo"});
  Sym(dl_, &a.utilization, {"nvmlDeviceGetUtilizationRates"});
  std::string procs_sym;
  if (Sym(dl_, &a.procs, {"nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2",
                          "nvmlDeviceGetComputeRunningProcesses"}, &procs_sym))
    a.procs_stride = procs_sym == "nvmlDeviceGetComputeRunningProcesses" ? 16 : 24;
  Sym(dl_, &a.temperature, {"nvmlDeviceGetTemperature"});
  Sym(dl_, &a.power, {"nvmlDeviceGetPowerUsage"});
  Sym(dl_, &a.clock_reasons, {"nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"});
  Sym(dl_, &a.ecc, {"nvmlDeviceGetTotalEccErrors"});
  Sym(dl_, &a.remapped, {"nvmlDeviceGetRemappedRows"});
  Sym(dl_, &a.pcie_replays, {"nvmlDeviceGetPcieReplayCounter"});
  Sym(dl_, &a.event_create, {"nvmlEventSetCreate"});
  Sym(dl_, &a.register_events, {"nvmlDeviceRegisterEvents"});
  Sym(dl_, &a.event_wait, {"nvmlEventSetWait_v2", "nvmlEventSetWait"});
  Sym(dl_, &a.event_free, {"nvmlEventSetFree"});

  int r = a.init();
  if (r != kSuccess) return fail("nvmlInit_v2 failed: " + Err(r));
  inited_ = true;
  if (a.driver_version) {
    char buf[96] = {0};
    if (a.driver_version(buf, sizeof(buf)) == kSuccess) driver_ = buf;
  }
  unsigned n = 0;
  r = a.count(&n);
  if (r != kSuccess) return fail("nvmlDeviceGetCount_v2 failed: " + Err(r));
  if (n == 0) return fail("no GPU (nvmlDeviceGetCount_v2 returned 0, driver " + driver_ + ")");
  std::string dev_errors;
  for (unsigned i = 0; i < n; i++) {
    Gpu g;
    g.index = i;
    r = a.handle_by_index(i, &g.handle);
    if (r != kSuccess) {
      dev_errors += " gpu" + std::to_string(i) + ": " + Err(r) + ";";
      continue;
    }
    char buf[96] = {0};
    if (a.uuid && a.uuid(g.handle, buf, sizeof(buf)) == kSuccess) g.uuid = buf;
    memset(buf, 0, sizeof(buf));
    if (a.name && a.name(g.handle, buf, sizeof(buf)) == kSuccess) g.name = buf;
    g.uuid_hash = Fnv1a(g.uuid.empty() ? std::to_string(i) : g.uuid);
    gpus_.push_back(std::move(g));
  }
  if (gpus_.empty()) return fail("no usable GPU:" + dev_errors);

  ProgramStatus sampler;
  sampler.name = "nvml_sampler";
  sampler.section = "nvml/sample " + std::to_string(opts_.interval_ms) + "ms";
  sampler.attached = true;
  if (!dev_errors.empty()) sampler.error = "some GPUs unusable:" + dev_errors;
  ProgramStatus events;
  events.name = "nvml_events";
  events.section = "nvml/events xid,ecc,gpu_unavailable";
  nvmlEventSet_t set = nullptr;
  if (!a.event_create || !a.register_events || !a.event_wait || !a.event_free) {
    events.error = "NVML event API missing in " + library_;
  } else if ((r = a.event_create(&set)) != kSuccess) {
    events.error = "nvmlEventSetCreate failed: " + Err(r);
  } else {
    std::string reg_err;
    int ok = 0;
    for (auto& g : gpus_) {
      int rr = a.register_events(g.handle, kEventTypes, set);
      if (rr == kNotSupported) rr = a.register_events(g.handle, XCTL_NVML_EV_XID, set);  // some boards: Xid only
      if (rr == kSuccess) ok++;
      else reg_err += " gpu" + std::to_string(g.index) + ": " + Err(rr) + ";";
    }
    if (ok == 0) {
      events.error = "nvmlDeviceRegisterEvents failed:" + reg_err;
      a.event_free(set);
      set = nullptr;
    } else {
      events.attached = true;
      if (!reg_err.empty()) events.error = "partly registered:" + reg_err;
    }
  }
  {
    std::lock_guard<std::mutex> g(status_mu_);
    status_.loaded = true;
    status_.error.clear();
    status_.programs = {sampler, events};
  }
  event_set_ = set;
  sampler_ = std::thread([this] { SampleLoop(); });
  if (set) events_thread_ = std::thread([this] { EventLoop(); });
  return true;
}

void NvmlSource::Stop() {
  {
    std::lock_guard<std::mutex> lk(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
  if (events_thread_.joinable()) events_thread_.join();
  if (api_ && event_set_ && api_->event_free) api_->event_free(event_set_);
  event_set_ = nullptr;
  if (api_ && inited_ && api_->shutdown) api_->shutdown();
  inited_ = false;
  delete api_;
  api_ = nullptr;
  if (dl_) dlclose(dl_);
  dl_ = nullptr;
}

void NvmlSource::Header(xctl_record* r, uint16_t kind, uint32_t pid, const std::string& comm) {
  memset(r, 0, sizeof(*r));
  r->h.ts_ns = BootNs();
  r->h.pid = pid;
  r->h.tid = pid;
  r->h.kind = kind;
  r->h.version = XCTL_RECORD_VERSION;
  r->h.cpu = static_cast<uint32_t>(sched_getcpu());
  strncpy(r->h.comm, comm.c_str(), XCTL_COMM_LEN - 1);
}

void NvmlSource::Push(const xctl_record& r) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (queue_.size() >= opts_.max_queue) {
      drops_++;
      return;
    }
    queue_.push_back(r);
  }
}

size_t NvmlSource::Drain(uint8_t* dst, size_t max, uint64_t*, uint32_t*) {
  std::lock_guard<std::mutex> g(mu_);
  size_t n = 0;
  while (n < max && !queue_.empty()) {
    memcpy(dst + n * XCTL_RECORD_SIZE, &queue_.front(), XCTL_RECORD_SIZE);
    queue_.pop_front();
    n++;
  }
  return n;
}

size_t NvmlSource::Pending() {
  std::lock_guard<std::mutex> g(mu_);
  return queue_.size();
}

FamilyStatus NvmlSource::Status() {
  std::lock_guard<std::mutex> g(status_mu_);
  return status_;
}

void NvmlSource::SampleLoop() {
  while (!stop_) {
    SampleOnce();
    if (wake_) wake_();
    std::unique_lock<std::mutex> lk(stop_mu_);
    stop_cv_.wait_for(lk, std::chrono::milliseconds(opts_.interval_ms), [this] { return stop_.load(); });
  }
}

void NvmlSource::SampleOnce() {
  NvmlApi& a = *api_;
  std::vector<uint8_t> procbuf;
  for (auto& g : gpus_) {
    uint64_t t0 = MonoNs();
    xctl_record r;
    Header(&r, XCTL_KIND_GPU_SAMPLE, 0, g.name);
    auto& s = r.gpu;
    s.gpu = g.index;
    s.uuid_hash = g.uuid_hash;
    std::string u = g.uuid.rfind("GPU-", 0) == 0 ? g.uuid.substr(4) : g.uuid;
    memcpy(s.uuid, u.c_str(), std::min<size_t>(u.size(), sizeof(s.uuid)));
    int lost_ret = 0;
    auto note = [&](int ret) {
      if (ret == kGpuIsLost || ret == kResetRequired) lost_ret = ret;
      return ret == kSuccess;
    };
    nvmlMemory_t m{};
    if (a.memory && note(a.memory(g.handle, &m))) {
      s.mem_used = m.used;
      s.mem_total = m.total;
      s.valid |= XCTL_GPU_V_MEM;
    }
    nvmlUtilization_t ut{};
    if (a.utilization && note(a.utilization(g.handle, &ut))) {
      s.util_gpu = static_cast<uint8_t>(std::min(ut.gpu, 100u));
      s.util_mem = static_cast<uint8_t>(std::min(ut.memory, 100u));
      s.valid |= XCTL_GPU_V_UTIL;
    }
    unsigned v = 0;
    if (a.temperature && note(a.temperature(g.handle, 0, &v))) {
      s.temp_c = static_cast<uint8_t>(std::min(v, 255u));
      s.valid |= XCTL_GPU_V_TEMP;
    }
    if (a.power && note(a.power(g.handle, &v))) {
      s.power_mw = v;
      s.valid |= XCTL_GPU_V_POWER;
    }
    unsigned long long ull = 0;
    if (a.clock_reasons && note(a.clock_reasons(g.handle, &ull))) {
      s.clock_reasons = ull;
      s.valid |= XCTL_GPU_V_CLOCKS;
    }
    unsigned long long sbe = 0, dbe = 0;
    if (a.ecc && note(a.ecc(g.handle, 0, 0, &sbe)) && note(a.ecc(g.handle, 1, 0, &dbe))) {
      s.ecc_sbe = sbe;
      s.ecc_dbe = dbe;
      s.valid |= XCTL_GPU_V_ECC;
    }
    unsigned corr = 0, unc = 0, pending = 0, failure = 0;
    if (a.remapped && note(a.remapped(g.handle, &corr, &unc, &pending, &failure))) {
      s.remap_pending = pending ? 1 : 0;
      s.valid |= XCTL_GPU_V_REMAP;
    }
    if (a.pcie_replays && note(a.pcie_replays(g.handle, &v))) {
      s.pcie_replays = v;
      s.valid |= XCTL_GPU_V_PCIE;
    }
    if (lost_ret) {
      if (!g.lost) {
        // the GPU vanished under us (Xid 79 and friends): say so once, as an event
        g.lost = true;
        xctl_record e;
        Header(&e, XCTL_KIND_GPU_EVENT, 0, g.name);
        e.gev.gpu = g.index;
        e.gev.uuid_hash = g.uuid_hash;
        e.gev.event_type = XCTL_NVML_EV_GPU_UNAVAILABLE;
        e.gev.nvml_status = lost_ret;
        Push(e);
        events_++;
      }
      continue;
    }
    g.lost = false;
    Push(r);
    // per-process GPU memory: size the list first, then fetch
    if (a.procs) {
      unsigned cnt = 0;
      int pr = a.procs(g.handle, &cnt, nullptr);
      if (pr == kInsufficientSize && cnt > 0) {
        cnt += 8;  // processes may start between the two calls
        procbuf.assign(cnt * 32, 0);  // 32: room for the R535 drivers that wrote larger records
        pr = a.procs(g.handle, &cnt, procbuf.data());
        if (pr == kSuccess) {
          for (unsigned i = 0; i < cnt; i++) {
            const uint8_t* p = procbuf.data() + i * a.procs_stride;
            uint32_t pid;
            unsigned long long used;
            memcpy(&pid, p, 4);
            memcpy(&used, p + 8, 8);
            if (pid == 0 || pid > (1u << 22)) continue;  // garbage: wrong record size
            if (used == kValueNotAvailable || (s.mem_total && used > s.mem_total)) used = 0;
            xctl_record pm;
            Header(&pm, XCTL_KIND_GPU_PROC_MEM, pid, Comm(pid));
            pm.gmem.gpu = g.index;
            pm.gmem.uuid_hash = g.uuid_hash;
            pm.gmem.used_bytes = used;
            pm.gmem.mem_total = s.mem_total;
            Push(pm);
          }
        }
      }
    }
    samples_++;
    sample_ns_ += MonoNs() - t0;
  }
}

void NvmlSource::EventLoop() {
  NvmlApi& a = *api_;
  while (!stop_) {
    nvmlEventData_t d{};
    int r = a.event_wait(event_set_, &d, kEventWaitMs);
    if (r == kTimeout) continue;
    if (r != kSuccess) {
      {
        std::lock_guard<std::mutex> g(status_mu_);
        if (status_.programs.size() > 1) status_.programs[1].error = "nvmlEventSetWait_v2: " + Err(r);
      }
      std::unique_lock<std::mutex> lk(stop_mu_);
      stop_cv_.wait_for(lk, std::chrono::milliseconds(1000), [this] { return stop_.load(); });
      continue;
    }
    const Gpu* gpu = nullptr;
    for (const auto& g : gpus_)
      if (g.handle == d.device) gpu = &g;
    xctl_record e;
    Header(&e, XCTL_KIND_GPU_EVENT, 0, gpu ? gpu->name : std::string());
    e.gev.gpu = gpu ? gpu->index : 0xFFFFFFFFu;
    e.gev.uuid_hash = gpu ? gpu->uuid_hash : 0;
    e.gev.event_type = d.eventType;
    e.gev.event_data = d.eventData;
    e.gev.gpu_instance = d.gpuInstanceId;
    e.gev.compute_instance = d.computeInstanceId;
    Push(e);
    events_++;
    if (wake_) wake_();
  }
}
