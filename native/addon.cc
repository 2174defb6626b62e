// xctl native addon entry: record layout, boot clock, and open() -> Session.
#include <napi.h>
#include <time.h>

#include <cstddef>

#include "../bpf/xctl_record.h"
#include "session.h"

Napi::Value PeerCred(const Napi::CallbackInfo& info);  // peercred.cc

static_assert(sizeof(xctl_record) == XCTL_RECORD_SIZE, "record must stay 128 bytes");
static_assert(sizeof(xctl_hdr) == 56, "header layout changed: bump XCTL_RECORD_VERSION");

namespace {

Napi::Value RecordLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", XCTL_RECORD_SIZE);
  o.Set("version", XCTL_RECORD_VERSION);
  Napi::Object off = Napi::Object::New(env);
#define F(key, member) off.Set(key, Napi::Number::New(env, offsetof(xctl_record, member)))
  F("hdr.ts_ns", h.ts_ns); F("hdr.start_ns", h.start_ns); F("hdr.cgroup_id", h.cgroup_id);
  F("hdr.pid", h.pid); F("hdr.tid", h.tid); F("hdr.kind", h.kind); F("hdr.version", h.version);
  F("hdr.flags", h.flags); F("hdr.cpu", h.cpu); F("hdr.comm", h.comm);
  F("tcp.saddr", tcp.saddr); F("tcp.daddr", tcp.daddr); F("tcp.sport", tcp.sport);
  F("tcp.dport", tcp.dport); F("tcp.family", tcp.family); F("tcp.state", tcp.state);
  F("tcp.owner_src", tcp.owner_src); F("tcp.count", tcp.count); F("tcp.segs", tcp.segs);
  F("tcp.sock_ino", tcp.sock_ino); F("tcp.first_ts_ns", tcp.first_ts_ns); F("tcp.skaddr", tcp.skaddr);
  F("io.dev", io.dev); F("io.bytes", io.bytes); F("io.sector", io.sector);
  F("io.latency_ns", io.latency_ns); F("io.error", io.error); F("io.flags", io.flags);
  F("io.device_ns", io.device_ns);
  F("exec.ppid", exec.ppid); F("exec.filename", exec.filename);
  F("exit.exit_code", exit.exit_code); F("exit.signal", exit.signal); F("exit.ppid", exit.ppid);
  F("exit.core_dumped", exit.core_dumped); F("exit.runtime_ns", exit.runtime_ns);
  F("exit.raw_status", exit.raw_status);
  F("sig.target_pid", sig.target_pid); F("sig.target_tid", sig.target_tid); F("sig.sig", sig.sig);
  F("sig.result", sig.result); F("sig.code", sig.code); F("sig.handled", sig.handled);
  F("sig.target_comm", sig.target_comm); F("sig.target_start_ns", sig.target_start_ns);
  F("oom.trigger_pid", oom.trigger_pid); F("oom.uid", oom.uid); F("oom.total_vm_kb", oom.total_vm_kb);
  F("oom.anon_rss_kb", oom.anon_rss_kb); F("oom.file_rss_kb", oom.file_rss_kb);
  F("oom.shmem_rss_kb", oom.shmem_rss_kb); F("oom.oom_score_adj", oom.oom_score_adj);
  F("oom.trigger_comm", oom.trigger_comm);
  F("fork.child_pid", fork.child_pid); F("fork.child_start_ns", fork.child_start_ns);
  F("off.duration_ns", off.duration_ns); F("off.max_ns", off.max_ns); F("off.count", off.count);
  F("off.state", off.state); F("off.flags", off.flags); F("off.waker_pid", off.waker_pid);
  F("off.waker_tid", off.waker_tid); F("off.waker_comm", off.waker_comm);
  F("off.waker_start_ns", off.waker_start_ns);
  F("bench.seq", bench.seq); F("bench.value", bench.value);
  F("gpu.gpu", gpu.gpu); F("gpu.power_mw", gpu.power_mw); F("gpu.mem_used", gpu.mem_used);
  F("gpu.mem_total", gpu.mem_total); F("gpu.clock_reasons", gpu.clock_reasons); F("gpu.ecc_sbe", gpu.ecc_sbe);
  F("gpu.ecc_dbe", gpu.ecc_dbe); F("gpu.pcie_replays", gpu.pcie_replays); F("gpu.util_gpu", gpu.util_gpu);
  F("gpu.util_mem", gpu.util_mem); F("gpu.temp_c", gpu.temp_c); F("gpu.remap_pending", gpu.remap_pending);
  F("gpu.valid", gpu.valid); F("gpu.uuid_hash", gpu.uuid_hash); F("gpu.uuid", gpu.uuid);
  F("gmem.gpu", gmem.gpu); F("gmem.uuid_hash", gmem.uuid_hash); F("gmem.used_bytes", gmem.used_bytes);
  F("gmem.mem_total", gmem.mem_total);
  F("gev.gpu", gev.gpu); F("gev.uuid_hash", gev.uuid_hash); F("gev.event_type", gev.event_type);
  F("gev.event_data", gev.event_data); F("gev.gpu_instance", gev.gpu_instance);
  F("gev.compute_instance", gev.compute_instance); F("gev.nvml_status", gev.nvml_status);
  F("cuda.fn", cuda.fn); F("cuda.result", cuda.result); F("cuda.size", cuda.size);
  F("cuda.latency_ns", cuda.latency_ns); F("cuda.ptr", cuda.ptr);
  F("nccl.fn", nccl.fn); F("nccl.phase", nccl.phase); F("nccl.duration_ns", nccl.duration_ns);
  F("nccl.comm", nccl.comm); F("nccl.count", nccl.count); F("nccl.datatype", nccl.datatype);
  F("nccl.result", nccl.result);
#undef F
  o.Set("offsets", off);
  Napi::Object kinds = Napi::Object::New(env);
  kinds.Set("tcp_retransmit", Napi::Number::New(env, XCTL_KIND_TCP_RETRANSMIT));
  kinds.Set("block_io", Napi::Number::New(env, XCTL_KIND_BLOCK_IO));
  kinds.Set("exec", Napi::Number::New(env, XCTL_KIND_EXEC));
  kinds.Set("exit", Napi::Number::New(env, XCTL_KIND_EXIT));
  kinds.Set("signal", Napi::Number::New(env, XCTL_KIND_SIGNAL));
  kinds.Set("oom_kill", Napi::Number::New(env, XCTL_KIND_OOM_KILL));
  kinds.Set("fork", Napi::Number::New(env, XCTL_KIND_FORK));
  kinds.Set("offcpu", Napi::Number::New(env, XCTL_KIND_OFFCPU));
  kinds.Set("bench", Napi::Number::New(env, XCTL_KIND_BENCH));
  kinds.Set("gpu_sample", Napi::Number::New(env, XCTL_KIND_GPU_SAMPLE));
  kinds.Set("gpu_proc_mem", Napi::Number::New(env, XCTL_KIND_GPU_PROC_MEM));
  kinds.Set("gpu_event", Napi::Number::New(env, XCTL_KIND_GPU_EVENT));
  kinds.Set("cuda_alloc", Napi::Number::New(env, XCTL_KIND_CUDA_ALLOC));
  kinds.Set("nccl_call", Napi::Number::New(env, XCTL_KIND_NCCL_CALL));
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
