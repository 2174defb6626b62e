#include "uprobes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace {

struct ProbeSpec {
  const char* lib;   // basename prefix
  const char* func;  // exported symbol
  const char* prog;  // BPF program (bpf/gpu.bpf.c)
  bool ret;
};

const ProbeSpec kSpecs[] = {
    {"libcudart.so", "cudaMalloc", "cuda_malloc_enter", false},
    {"libcudart.so", "cudaMalloc", "cuda_malloc_exit", true},
    {"libcudart.so", "cudaMallocManaged", "cuda_malloc_managed_enter", false},
    {"libcudart.so", "cudaMallocManaged", "cuda_malloc_managed_exit", true},
    {"libcuda.so", "cuMemAlloc_v2", "cu_mem_alloc_enter", false},
    {"libcuda.so", "cuMemAlloc_v2", "cu_mem_alloc_exit", true},
    {"libnccl.so", "ncclAllReduce", "nccl_allreduce_enter", false},
    {"libnccl.so", "ncclAllReduce", "nccl_allreduce_exit", true},
    {"libnccl.so", "ncclBroadcast", "nccl_broadcast_enter", false},
    {"libnccl.so", "ncclBroadcast", "nccl_broadcast_exit", true},
    {"libnccl.so", "ncclAllGather", "nccl_allgather_enter", false},
    {"libnccl.so", "ncclAllGather", "nccl_allgather_exit", true},
    {"libnccl.so", "ncclReduceScatter", "nccl_reducescatter_enter", false},
    {"libnccl.so", "ncclReduceScatter", "nccl_reducescatter_exit", true},
    {"libnccl.so", "ncclGroupEnd", "nccl_group_end_enter", false},
    {"libnccl.so", "ncclGroupEnd", "nccl_group_end_exit", true},
};

std::string Base(const std::string& path) {
  size_t s = path.rfind('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}

bool StartsWith(const std::string& s, const char* p) { return s.compare(0, strlen(p), p) == 0; }

// Mirrors struct nccl_slot in bpf/gpu.bpf.c.
struct NcclSlot {
  uint64_t ts, start_ns, cgroup_id, comm, count;
  uint32_t pid, tid, fn, datatype;
  char name[XCTL_COMM_LEN];
};

}  // namespace

UprobeManager::UprobeManager(LoadedFamily* fam) : fam_(fam) {
  if (fam_ && fam_->obj) {
    bpf_map* m = bpf_object__find_map_by_name(fam_->obj, "nccl_inflight");
    if (m) inflight_fd_ = bpf_map__fd(m);
  }
}

UprobeManager::~UprobeManager() {
  for (auto& [path, v] : links_)
    for (auto& [prog, l] : v) bpf_link__destroy(l);
  links_.clear();
}

std::string UprobeManager::LibraryKind(const std::string& path) {
  std::string b = Base(path);
  if (StartsWith(b, "libcudart.so")) return "cudart";
  if (StartsWith(b, "libcuda.so")) return "cuda";
  if (StartsWith(b, "libnccl.so")) return "nccl";
  return "";
}

UprobeAttachResult UprobeManager::Attach(const std::string& path) {
  UprobeAttachResult res;
  res.path = path;
  if (!fam_ || !fam_->obj) {
    res.error = "cuda family not loaded";
    return res;
  }
  if (links_.count(path)) {
    for (auto& [prog, l] : links_[path]) res.functions.push_back(prog);
    return res;
  }
  std::string b = Base(path);
  std::vector<std::pair<std::string, bpf_link*>> made;
  std::string errs;
  for (const auto& s : kSpecs) {
    if (!StartsWith(b, s.lib)) continue;
    bpf_program* p = bpf_object__find_program_by_name(fam_->obj, s.prog);
    if (!p) continue;
    LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = s.ret, .func_name = s.func);
    bpf_link* l = bpf_program__attach_uprobe_opts(p, -1, path.c_str(), 0, &o);
    if (!l) {
      int e = errno;
      if (errs.size() < 512) errs += std::string(errs.empty() ? "" : "; ") + s.func + ": " + strerror(e);
      continue;
    }
    made.emplace_back(s.prog, l);
    res.functions.push_back(std::string(s.func) + (s.ret ? " (return)" : ""));
  }
  if (made.empty()) {
    res.error = errs.empty() ? "no known function in " + b : errs;
    return res;
  }
  links_[path] = std::move(made);
  return res;
}

bool UprobeManager::Detach(const std::string& path) {
  auto it = links_.find(path);
  if (it == links_.end()) return false;
  for (auto& [prog, l] : it->second) bpf_link__destroy(l);
  links_.erase(it);
  return true;
}

std::vector<std::string> UprobeManager::Paths() const {
  std::vector<std::string> out;
  for (const auto& [p, v] : links_) out.push_back(p);
  return out;
}

std::vector<xctl_record> UprobeManager::Inflight(uint64_t now_ns, uint64_t threshold_ns) {
  std::vector<xctl_record> out;
  if (inflight_fd_ < 0) return out;
  uint64_t key = 0, next = 0;
  void* prev = nullptr;
  int guard = 0;
  std::vector<uint64_t> dead;
  while (bpf_map_get_next_key(inflight_fd_, prev, &next) == 0 && guard++ < 16384) {
    key = next;
    prev = &key;
    NcclSlot s{};
    if (bpf_map_lookup_elem(inflight_fd_, &key, &s)) continue;
    std::string task = "/proc/" + std::to_string(s.pid) + "/task/" + std::to_string(s.tid);
    if (access(task.c_str(), F_OK) != 0) {
      dead.push_back(key);  // the thread died inside the collective: nothing will ever return
      continue;
    }
    if (now_ns < s.ts || now_ns - s.ts < threshold_ns) continue;
    xctl_record r;
    memset(&r, 0, sizeof(r));
    r.h.ts_ns = now_ns;
    r.h.start_ns = s.start_ns;
    r.h.cgroup_id = s.cgroup_id;
    r.h.pid = s.pid;
    r.h.tid = s.tid;
    r.h.kind = XCTL_KIND_NCCL_CALL;
    r.h.version = XCTL_RECORD_VERSION;
    memcpy(r.h.comm, s.name, XCTL_COMM_LEN);
    r.h.comm[XCTL_COMM_LEN - 1] = 0;
    r.nccl.fn = s.fn;
    r.nccl.phase = XCTL_NCCL_INFLIGHT;
    r.nccl.duration_ns = now_ns - s.ts;
    r.nccl.comm = s.comm;
    r.nccl.count = s.count;
    r.nccl.datatype = s.datatype;
    out.push_back(r);
  }
  for (uint64_t k : dead) bpf_map_delete_elem(inflight_fd_, &k);
  return out;
}

void UprobeManager::UpdateStatus(FamilyStatus* st) const {
  for (auto& ps : st->programs) {
    size_t n = 0;
    for (const auto& [path, v] : links_)
      for (const auto& [prog, l] : v) n += prog == ps.name ? 1 : 0;
    ps.attached = n > 0;
    ps.error = n > 0 ? "" : "attached on demand: no process maps its library yet";
  }
}
