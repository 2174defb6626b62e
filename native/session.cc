#include "session.h"

#include <bpf/bpf.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

Napi::FunctionReference* Session::constructor = nullptr;

namespace {
constexpr size_t kRecord = XCTL_RECORD_SIZE;
// Batches per libuv wakeup before yielding to the loop; the poll is level
// triggered, so anything left is picked up on the next iteration.
constexpr size_t kBatchesPerWakeup = 64;
// Periodic drain: the BPF side wakes us only when a batch is waiting
// (cfg.wakeup_bytes), so this bounds how stale a quiet ring can get.
constexpr uint64_t kDefaultDrainMs = 50;

uint64_t Ns(Napi::Object cfg, const char* key, uint64_t def) {
  if (!cfg.Has(key)) return def;
  Napi::Value v = cfg.Get(key);
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (v.IsNumber()) return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
  return def;
}

void ReadConfig(Napi::Object o, xctl_cfg* c) {
  c->io_min_latency_ns = Ns(o, "ioMinLatencyNs", c->io_min_latency_ns);
  c->offcpu_min_ns = Ns(o, "offcpuMinNs", c->offcpu_min_ns);
  c->runq_min_ns = Ns(o, "runqMinNs", c->runq_min_ns);
  c->runq_window_ns = Ns(o, "runqWindowNs", c->runq_window_ns);
  c->tcp_flush_ns = Ns(o, "tcpFlushNs", c->tcp_flush_ns);
  if (o.Has("skipKthreads")) c->skip_kthreads = o.Get("skipKthreads").ToBoolean() ? 1 : 0;
  c->wakeup_bytes = static_cast<uint32_t>(Ns(o, "wakeupBytes", c->wakeup_bytes));
  c->syscall_flush_ns = Ns(o, "syscallFlushNs", c->syscall_flush_ns);
}
}  // namespace

Napi::Function Session::Define(Napi::Env env) {
  Napi::Function f = DefineClass(env, "NativeSession",
                                 {
                                     InstanceMethod("status", &Session::Status),
                                     InstanceMethod("stats", &Session::Stats),
                                     InstanceMethod("setConfig", &Session::SetConfig),
                                     InstanceMethod("drain", &Session::Drain),
                                     InstanceMethod("programStats", &Session::ProgramStats),
                                     InstanceMethod("stop", &Session::Stop),
                                     InstanceMethod("pause", &Session::Pause),
                                     InstanceMethod("resume", &Session::Resume),
                                     InstanceMethod("attachLibrary", &Session::AttachLibrary),
                                     InstanceMethod("detachLibrary", &Session::DetachLibrary),
                                     InstanceMethod("libraries", &Session::Libraries),
                                 });
  constructor = new Napi::FunctionReference(Napi::Persistent(f));
  return f;
}

Session::Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Session>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  cfg_ = DefaultConfig();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "open(options): options object required").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object opts = info[0].As<Napi::Object>();
  if (!opts.Get("onBatch").IsFunction()) {
    Napi::TypeError::New(env, "open(options): options.onBatch must be a function").ThrowAsJavaScriptException();
    return;
  }
  on_batch_ = Napi::Persistent(opts.Get("onBatch").As<Napi::Function>());
  Napi::Value bufs = opts.Get("buffers");
  if (!bufs.IsArray() || bufs.As<Napi::Array>().Length() < 1) {
    Napi::TypeError::New(env, "open(options): options.buffers must be a non-empty array of ArrayBuffer")
        .ThrowAsJavaScriptException();
    return;
  }
  Napi::Array arr = bufs.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value b = arr.Get(i);
    if (!b.IsArrayBuffer() || b.As<Napi::ArrayBuffer>().ByteLength() < kRecord) {
      Napi::TypeError::New(env, "open(options): buffers[" + std::to_string(i) +
                                    "] must be an ArrayBuffer of at least one record (128 bytes)")
          .ThrowAsJavaScriptException();
      return;
    }
    Napi::ArrayBuffer ab = b.As<Napi::ArrayBuffer>();
    Buffer buf;
    buf.ref = Napi::Persistent(ab);
    buf.data = static_cast<uint8_t*>(ab.Data());
    buf.capacity_records = ab.ByteLength() / kRecord;
    buffers_.push_back(std::move(buf));
  }
  if (opts.Get("config").IsObject()) ReadConfig(opts.Get("config").As<Napi::Object>(), &cfg_);
  if (opts.Get("drainIntervalMs").IsNumber()) drain_ms_ = opts.Get("drainIntervalMs").As<Napi::Number>().Uint32Value();
  if (drain_ms_ == 0) drain_ms_ = kDefaultDrainMs;
  uint32_t ring_bytes = 0;
  if (opts.Get("ringBytes").IsNumber()) ring_bytes = opts.Get("ringBytes").As<Napi::Number>().Uint32Value();
  if (ring_bytes && (ring_bytes & (ring_bytes - 1))) {
    Napi::RangeError::New(env, "open(options): ringBytes must be a power of two").ThrowAsJavaScriptException();
    return;
  }

  std::vector<std::string> wanted;
  Napi::Value fams = opts.Get("families");
  if (fams.IsArray()) {
    Napi::Array fa = fams.As<Napi::Array>();
    for (uint32_t i = 0; i < fa.Length(); i++) wanted.push_back(fa.Get(i).ToString().Utf8Value());
  } else {
    for (const auto& f : Families())
      if (f.on_by_default) wanted.push_back(f.name);
  }

  // One program per hook: with both on, sched loads first and runs io's waiter
  // logic in its own sched_switch/sched_waking programs (bpf/io_waiter.bpf.h).
  auto io_at = std::find(wanted.begin(), wanted.end(), "io");
  auto sched_at = std::find(wanted.begin(), wanted.end(), "sched");
  if (io_at != wanted.end() && sched_at != wanted.end() && io_at < sched_at) {
    wanted.erase(io_at);
    wanted.insert(std::find(wanted.begin(), wanted.end(), "sched") + 1, "io");
  }
  LoadedFamily* sched_fam = nullptr;

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    Napi::Error::New(env, std::string("epoll_create1: ") + strerror(errno)).ThrowAsJavaScriptException();
    return;
  }
  for (const auto& name : wanted) {
    const FamilyDef* def = FindFamily(name);
    if (def && def->source == FamilySource::kNvml) {
      // NVML in userspace threads, not BPF: records reach JS through the same batches
      auto fam = std::make_unique<LoadedFamily>();
      fam->name = name;
      nvml_ = std::make_unique<NvmlSource>(name);
      NvmlOptions nopts;
      Napi::Value nv = opts.Get("gpu");
      if (nv.IsObject()) {
        Napi::Object no = nv.As<Napi::Object>();
        if (no.Get("nvmlLibrary").IsString()) nopts.library = no.Get("nvmlLibrary").As<Napi::String>().Utf8Value();
        if (no.Get("intervalMs").IsNumber()) nopts.interval_ms = no.Get("intervalMs").As<Napi::Number>().Uint32Value();
      }
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      async_ = new uv_async_t;
      async_->data = this;
      uv_async_init(loop, async_, OnAsync);
      uv_unref(reinterpret_cast<uv_handle_t*>(async_));
      uv_async_t* wake = async_;
      nvml_->Start(nopts, [wake] { uv_async_send(wake); });
      fam->status = nvml_->Status();
      gpu_family_ = fam.get();
      families_.push_back(std::move(fam));
      continue;
    }
    LoadShare share;
    bool io_in_sched = name == "io" && sched_fam && sched_fam->status.loaded &&
                       ProgramRunning(*sched_fam, "on_switch") && ProgramRunning(*sched_fam, "on_waking") &&
                       FamilyMapFd(*sched_fam, "completing") >= 0;
    if (io_in_sched) {
      share.reuse_maps.emplace_back("completing", FamilyMapFd(*sched_fam, "completing"));
      share.skip_programs = {"on_switch_io", "on_waking_io"};
    }
    auto fam = LoadFamily(name, cfg_, ring_bytes, share);
    if (name == "sched") sched_fam = fam.get();
    if (io_in_sched && fam->status.loaded) {
      cfg_.io_waiters = 1;
      sched_fam->WriteConfig(cfg_);
    }
    if (def && def->source == FamilySource::kUprobe && fam->status.loaded) {
      uprobes_ = std::make_unique<UprobeManager>(fam.get());
      cuda_family_ = fam.get();
      Napi::Value cu = opts.Get("cuda");
      if (cu.IsObject() && cu.As<Napi::Object>().Get("inflightMs").IsNumber())
        inflight_threshold_ns_ =
            static_cast<uint64_t>(cu.As<Napi::Object>().Get("inflightMs").As<Napi::Number>().DoubleValue() * 1e6);
    }
    if (fam->status.loaded && fam->ring_fd >= 0) {
      auto ring = std::make_unique<RingReader>();
      std::string err = ring->Open(fam->ring_fd, fam->ring_bytes);
      if (!err.empty()) {
        fam->status.error = err;
      } else {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = static_cast<uint32_t>(rings_.size());
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fam->ring_fd, &ev);
        rings_.push_back(std::move(ring));
      }
    }
    families_.push_back(std::move(fam));
  }
  // status in the family table's order, whatever the load order was
  std::stable_sort(families_.begin(), families_.end(), [](const auto& a, const auto& b) {
    auto rank = [](const std::string& n) {
      const auto& t = Families();
      for (size_t i = 0; i < t.size(); i++)
        if (n == t[i].name) return i;
      return t.size();
    };
    return rank(a->name) < rank(b->name);
  });
  for (auto& ring : rings_) sources_.push_back(ring.get());
  sources_.push_back(&inflight_);
  if (nvml_) sources_.push_back(nvml_.get());
  StartPolling(env);
  if (opts.Get("paused").ToBoolean()) {
    uv_poll_stop(poll_);
    uv_timer_stop(timer_);
    paused_ = true;
  }
  napi_add_env_cleanup_hook(env, CleanupHook, this);
}

Napi::Value Session::FamilyTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& f : Families()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", f.name);
    o.Set("source", SourceName(f.source));
    if (*f.object) o.Set("object", std::string(f.object) + ".bpf.o");
    o.Set("onByDefault", f.on_by_default);
    o.Set("internal", f.internal);
    o.Set("description", f.description);
    out.Set(i++, o);
  }
  return out;
}

Session::~Session() {
  Shutdown();
  napi_remove_env_cleanup_hook(env_, CleanupHook, this);
}

void Session::CleanupHook(void* arg) { static_cast<Session*>(arg)->Shutdown(); }

void Session::StartPolling(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  poll_->data = this;
  uv_poll_init(loop, poll_, epoll_fd_);
  uv_poll_start(poll_, UV_READABLE, OnPoll);
  timer_ = new uv_timer_t;
  timer_->data = this;
  uv_timer_init(loop, timer_);
  uv_timer_start(timer_, OnTimer, drain_ms_, drain_ms_);
  // Polling must not keep the process alive on its own: JS decides lifetime.
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
}

void Session::OnPoll(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<Session*>(handle->data);
  if (!self || self->stopped_) return;
  self->wakeups_++;
  epoll_event evs[16];
  epoll_wait(self->epoll_fd_, evs, 16, 0);  // readiness is level triggered; we drain every ring anyway
  Napi::HandleScope scope(self->env_);
  self->DrainAll(self->env_, true, kBatchesPerWakeup);
}

void Session::OnAsync(uv_async_t* handle) {
  auto* self = static_cast<Session*>(handle->data);
  if (!self || self->stopped_ || self->paused_) return;
  Napi::HandleScope scope(self->env_);
  self->DrainAll(self->env_, true, kBatchesPerWakeup);
}

void Session::ScanInflight() {
  if (!uprobes_) return;
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
  if (now - last_scan_ns_ < 1000000000ULL) return;  // once a second
  last_scan_ns_ = now;
  for (auto& r : uprobes_->Inflight(now, inflight_threshold_ns_)) inflight_.Push(r);
}

void Session::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<Session*>(handle->data);
  if (!self || self->stopped_) return;
  self->ScanInflight();
  Napi::HandleScope scope(self->env_);
  self->DrainAll(self->env_, true, kBatchesPerWakeup);
}

bool Session::DeliverBatch(Napi::Env env, size_t count, bool from_loop) {
  size_t idx = current_;
  uint32_t flagged = flagged_;
  current_ = (current_ + 1) % buffers_.size();
  filled_ = 0;
  flagged_ = 0;
  records_ += count;
  batches_++;
  bytes_ += count * kRecord;
  napi_value args[3] = {Napi::Number::New(env, static_cast<double>(idx)),
                        Napi::Number::New(env, static_cast<double>(count)),
                        Napi::Number::New(env, static_cast<double>(flagged))};
  napi_value fn = on_batch_.Value(), result;
  // Raw calls, not node-addon-api's: when JS cannot run (the environment is being
  // torn down) its wrappers escalate the failed call into a fatal napi_throw.
  napi_status st = from_loop ? napi_make_callback(env, nullptr, env.Global(), fn, 3, args, &result)
                             : napi_call_function(env, env.Global(), fn, 3, args, &result);
  if (st != napi_ok) {
    // These records are lost to the consumer: count them. A consumer that threw
    // surfaces as uncaughtException when called from the loop (the JS caller sees
    // it otherwise); a call that could not run at all has nothing to surface.
    user_drops_ += count;
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending && from_loop) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
      napi_fatal_exception(env, e);
    }
    return false;
  }
  return true;
}

// Accounts `n` records just written at the fill position, whatever their source,
// and delivers the buffer once it is full. False: the JS caller has an exception.
bool Session::Append(Napi::Env env, size_t n, bool from_loop, size_t* batches, size_t* total) {
  filled_ += n;
  *total += n;
  if (filled_ < buffers_[current_].capacity_records) return true;
  ++*batches;
  return DeliverBatch(env, filled_, from_loop) || from_loop;
}

size_t Session::DrainAll(Napi::Env env, bool from_loop, size_t max_batches) {
  if (draining_ || stopped_ || buffers_.empty()) return 0;  // onBatch may call drain(): no re-entry
  draining_ = true;
  size_t total = 0, batches = 0;
  bool progress = true;
  while (progress && batches < max_batches && !stopped_) {
    progress = false;
    for (RecordSource* source : sources_) {
      for (;;) {
        Buffer& b = buffers_[current_];
        uint64_t bad = 0;
        size_t n = source->Drain(b.data + filled_ * kRecord, b.capacity_records - filled_, &bad, &flagged_);
        user_drops_ += bad;
        if (n == 0) break;
        progress = true;
        if (!Append(env, n, from_loop, &batches, &total)) {
          draining_ = false;
          return total;  // exception pending for the JS caller
        }
        if (stopped_ || batches >= max_batches) break;
      }
      if (stopped_ || batches >= max_batches) break;
    }
  }
  if (filled_ > 0 && !stopped_) DeliverBatch(env, filled_, from_loop);
  draining_ = false;
  return total;
}

void Session::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  if (poll_) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (timer_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  if (nvml_) nvml_->Stop();  // joins the NVML threads before the async handle goes
  if (async_) {
    uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
  }
  uprobes_.reset();    // uprobe links before their programs' object goes
  cuda_family_ = nullptr;
  sources_.clear();
  rings_.clear();      // unmaps
  families_.clear();   // detaches links, closes objects and map fds
  if (epoll_fd_ >= 0) close(epoll_fd_);
  epoll_fd_ = -1;
}

Napi::Value Session::Status(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  if (nvml_ && gpu_family_ && !stopped_) gpu_family_->status = nvml_->Status();  // event thread errors come later
  if (uprobes_ && cuda_family_ && !stopped_) uprobes_->UpdateStatus(&cuda_family_->status);
  for (const auto& f : families_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("family", f->status.family);
    o.Set("loaded", f->status.loaded);
    if (!f->status.error.empty()) o.Set("error", f->status.error);
    Napi::Array progs = Napi::Array::New(env);
    uint32_t j = 0;
    for (const auto& p : f->status.programs) {
      Napi::Object po = Napi::Object::New(env);
      po.Set("name", p.name);
      po.Set("section", p.section);
      po.Set("attached", p.attached);
      if (!p.error.empty()) po.Set("error", p.error);
      if (!p.covered_by.empty()) po.Set("coveredBy", p.covered_by);
      progs.Set(j++, po);
    }
    o.Set("programs", progs);
    out.Set(i++, o);
  }
  return out;
}

Napi::Value Session::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  uint64_t kdrops = 0;
  Napi::Object by = Napi::Object::New(env);
  for (const auto& f : families_) {
    uint64_t d = f->KernelDrops();
    kdrops += d;
    by.Set(f->name, Napi::Number::New(env, static_cast<double>(d)));
  }
  o.Set("records", Napi::Number::New(env, static_cast<double>(records_)));
  o.Set("batches", Napi::Number::New(env, static_cast<double>(batches_)));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(bytes_)));
  o.Set("wakeups", Napi::Number::New(env, static_cast<double>(wakeups_)));
  if (nvml_) kdrops += nvml_->Drops();  // the NVML queue overflowed: records lost at the source
  o.Set("kernelDrops", Napi::Number::New(env, static_cast<double>(kdrops)));
  o.Set("userDrops", Napi::Number::New(env, static_cast<double>(user_drops_)));
  if (nvml_) {
    if (gpu_family_) by.Set(gpu_family_->name, Napi::Number::New(env, static_cast<double>(nvml_->Drops())));
    Napi::Object g = Napi::Object::New(env);
    g.Set("gpus", Napi::Number::New(env, nvml_->Gpus()));
    g.Set("samples", Napi::Number::New(env, static_cast<double>(nvml_->Samples())));
    g.Set("sampleNs", Napi::Number::New(env, static_cast<double>(nvml_->SampleNs())));
    g.Set("events", Napi::Number::New(env, static_cast<double>(nvml_->Events())));
    g.Set("drops", Napi::Number::New(env, static_cast<double>(nvml_->Drops())));
    g.Set("library", nvml_->Library());
    g.Set("driver", nvml_->Driver());
    o.Set("gpu", g);
  }
  o.Set("dropsByFamily", by);
  return o;
}

Napi::Value Session::SetConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "setConfig(config): object required").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ReadConfig(info[0].As<Napi::Object>(), &cfg_);
  for (auto& f : families_)
    if (f->status.loaded && f.get() != gpu_family_ && !f->WriteConfig(cfg_)) {
      Napi::Error::New(env, "setConfig: could not update tunables of family " + f->name)
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
  return env.Undefined();
}

Napi::Value Session::Drain(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(DrainAll(info.Env(), false, SIZE_MAX)));
}

Napi::Value Session::ProgramStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (uprobes_ && cuda_family_ && !stopped_) uprobes_->UpdateStatus(&cuda_family_->status);  // attached on demand
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& f : families_) {
    for (const auto& p : f->status.programs) {
      if (!p.attached || p.prog_fd < 0) continue;
      bpf_prog_info pi{};
      uint32_t len = sizeof(pi);
      if (bpf_obj_get_info_by_fd(p.prog_fd, &pi, &len)) continue;
      Napi::Object o = Napi::Object::New(env);
      o.Set("family", f->name);
      o.Set("name", p.name);
      o.Set("runCount", Napi::Number::New(env, static_cast<double>(pi.run_cnt)));
      o.Set("runTimeNs", Napi::Number::New(env, static_cast<double>(pi.run_time_ns)));
      out.Set(i++, o);
    }
  }
  return out;
}

// Paused: nothing drains the rings except an explicit drain(); producers keep
// writing until the rings are full and then count drops, as when we lag.
Napi::Value Session::Pause(const Napi::CallbackInfo& info) {
  if (!stopped_ && !paused_) {
    uv_poll_stop(poll_);
    uv_timer_stop(timer_);
    paused_ = true;
  }
  return info.Env().Undefined();
}

Napi::Value Session::Resume(const Napi::CallbackInfo& info) {
  if (!stopped_ && paused_) {
    uv_poll_start(poll_, UV_READABLE, OnPoll);
    uv_timer_start(timer_, OnTimer, drain_ms_, drain_ms_);
    paused_ = false;
  }
  return info.Env().Undefined();
}

Napi::Value Session::AttachLibrary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "attachLibrary(path): path string required").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  std::string path = info[0].As<Napi::String>().Utf8Value();
  o.Set("path", path);
  if (!uprobes_ || stopped_) {
    o.Set("functions", Napi::Array::New(env));
    o.Set("error", "cuda family not loaded");
    return o;
  }
  UprobeAttachResult r = uprobes_->Attach(path);
  Napi::Array fns = Napi::Array::New(env);
  for (uint32_t i = 0; i < r.functions.size(); i++) fns.Set(i, r.functions[i]);
  o.Set("functions", fns);
  if (!r.error.empty()) o.Set("error", r.error);
  return o;
}

Napi::Value Session::DetachLibrary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "detachLibrary(path): path string required").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool ok = uprobes_ && !stopped_ && uprobes_->Detach(info[0].As<Napi::String>().Utf8Value());
  return Napi::Boolean::New(env, ok);
}

Napi::Value Session::Libraries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  if (!uprobes_) return out;
  uint32_t i = 0;
  for (const auto& p : uprobes_->Paths()) out.Set(i++, p);
  return out;
}

Napi::Value Session::Stop(const Napi::CallbackInfo& info) {
  if (!stopped_) DrainAll(info.Env(), false, SIZE_MAX);  // nothing left behind in the rings
  Shutdown();
  return info.Env().Undefined();
}
