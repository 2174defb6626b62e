#include "probe_set.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <map>
#include <string>

#include "bench.skel.h"
#include "cuda.skel.h"
#include "io.skel.h"
#include "net.skel.h"
#include "proc.skel.h"
#include "sched.skel.h"
#include "syscall.skel.h"

namespace {
using S = FamilySource;
}  // namespace

const std::vector<FamilyDef>& Families() {
  static const std::vector<FamilyDef> table = {
      {"net", S::kBpf, xskel_net__elf_bytes, "net", true, false,
       "TCP retransmits with 4-tuple, TCP state and segment count (tcp_retransmit_skb, sock_send_length, "
       "inet_sock_set_state)"},
      {"io", S::kBpf, xskel_io__elf_bytes, "io", true, false,
       "block request latency and errors; waiter records for IO a kernel thread issued (block_rq_issue, "
       "block_rq_complete; sched_switch, sched_waking by sched's programs when sched is on)"},
      {"proc", S::kBpf, xskel_proc__elf_bytes, "proc", true, false,
       "exec, fork, exit with code and signal, fatal signals with sender and target, OOM victims "
       "(sched_process_exec/fork/exit, signal_generate, mark_victim)"},
      {"sched", S::kBpf, xskel_sched__elf_bytes, "sched", true, false,
       "every wait (run queue, S, D) summed per thread in the kernel; single sleeps at or above the threshold "
       "with the waker (sched_switch, sched_waking, sched_process_exit)"},
      {"syscall", S::kBpf, xskel_syscall__elf_bytes, "syscall", true, false,
       "failed syscalls counted in the kernel per process, syscall and errno, with a sample of the path, file or "
       "peer (open/openat, write/pwrite64/fsync/fdatasync, connect, accept/accept4, mmap, clone/clone3; sys_exit, "
       "sched_process_exit)"},
      {"bench", S::kBpf, xskel_bench__elf_bytes, "bench", false, true, "synthetic records for the benchmarks"},
      {"gpu", S::kNvml, nullptr, "", true, false,
       "per-GPU samples, per-process GPU memory, Xid / ECC / GPU-unavailable events (NVML, dlopened; "
       "not loaded, with the reason, where NVML is absent)"},
      {"cuda", S::kUprobe, xskel_cuda__elf_bytes, "cuda", false, false,
       "CUDA allocations with their result, NCCL collectives with durations and those in flight too long "
       "(uprobes on libcudart, libcuda, libnccl, attached when a process maps them)"},
  };
  return table;
}

const char* SourceName(FamilySource s) {
  switch (s) {
    case S::kBpf: return "bpf";
    case S::kNvml: return "nvml";
    case S::kUprobe: return "uprobe";
  }
  return "?";
}

const FamilyDef* FindFamily(const std::string& name) {
  for (const auto& f : Families())
    if (name == f.name) return &f;
  return nullptr;
}

namespace {

// libbpf reports verifier logs and attach failures through its print hook;
// we collect them per load so the status can quote the kernel.
std::string* g_log = nullptr;

// libbpf passes a whole verifier log as one message, and the verifier says why
// at its end: format it whole and keep the end when it runs long.
int CaptureLog(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (!g_log || level == LIBBPF_DEBUG) return 0;
  constexpr size_t kKeep = 64 * 1024;
  va_list sizing;
  va_copy(sizing, args);
  int n = vsnprintf(nullptr, 0, fmt, sizing);
  va_end(sizing);
  if (n <= 0) return 0;
  std::string msg(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(&msg[0], msg.size(), fmt, args);
  msg.resize(static_cast<size_t>(n));
  g_log->append(msg);
  if (g_log->size() > kKeep) g_log->erase(0, g_log->size() - kKeep);
  return 0;
}

struct LogScope {
  std::string text;
  libbpf_print_fn_t prev;
  LogScope() {
    g_log = &text;
    prev = libbpf_set_print(CaptureLog);
  }
  ~LogScope() {
    libbpf_set_print(prev);
    g_log = nullptr;
  }
};

// The last lines of a verifier/libbpf log: where the reason usually is.
std::string Excerpt(const std::string& log, size_t max_lines = 8) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    std::string line = log.substr(start, end - start);
    if (!line.empty()) lines.push_back(line);
    start = end + 1;
  }
  std::string out;
  size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
  for (size_t i = first; i < lines.size(); i++) {
    if (!out.empty()) out += " | ";
    out += lines[i];
  }
  return out;
}

std::string Reason(int err, const std::string& what) {
  err = err < 0 ? -err : err;
  std::string r = what + ": " + strerror(err);
  // As root, EACCES is the verifier's (e.g. an argument the tracepoint does
  // not have on this kernel), and ESRCH with BTF present is a missing target.
  bool root = geteuid() == 0;
  if ((err == EPERM || err == EACCES) && !root)
    r += " (needs root or CAP_BPF+CAP_PERFMON; also check kernel.unprivileged_bpf_disabled / lockdown)";
  else if (err == EACCES)
    r += " (rejected by the verifier: a prototype or type this kernel does not have; see its log)";
  else if (err == EPERM)
    r += " (denied although root: kernel lockdown?)";
  else if (err == ENOENT)
    r += " (tracepoint or kernel function absent on this kernel)";
  else if (err == ESRCH && access("/sys/kernel/btf/vmlinux", R_OK) == 0)
    r += " (tracepoint or kernel function absent on this kernel: no BTF type for it)";
  else if (err == ESRCH)
    r += " (kernel type information missing: is /sys/kernel/btf/vmlinux present?)";
  else if (err == EINVAL)
    r += " (rejected by the kernel; see log)";
  return r;
}

bpf_object* Open(const FamilyDef& def, std::string* err) {
  size_t sz = 0;
  const void* bytes = def.elf(&sz);
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = def.name);
  bpf_object* obj = bpf_object__open_mem(bytes, sz, &opts);
  if (!obj) *err = Reason(errno, std::string("open ") + def.name);
  return obj;
}

constexpr const char kFallbackSuffix[] = "__fallback";

bool IsFallback(const std::string& prog) {
  size_t n = sizeof(kFallbackSuffix) - 1;
  return prog.size() > n && prog.compare(prog.size() - n, n, kFallbackSuffix) == 0;
}

// Whether this kernel can create maps of a type (probed once per type).
bool MapTypeSupported(bpf_map_type type) {
  static std::map<int, bool> known;
  auto it = known.find(type);
  if (it != known.end()) return it->second;
  return known[type] = libbpf_probe_bpf_map_type(type, nullptr) == 1;
}

bool Skipped(const LoadShare& share, const std::string& prog) {
  for (const auto& s : share.skip_programs)
    if (prog == s || prog == s + kFallbackSuffix) return true;
  return false;
}

void ApplyPreload(bpf_object* obj, const xctl_cfg& cfg, uint32_t ring_bytes, const LoadShare& share) {
  // `X__fallback` programs serve older kernels: off unless X fails (see LoadFamily).
  // Programs another family's programs stand in for are off too.
  bpf_program* p;
  bpf_object__for_each_program(p, obj) {
    const char* pn = bpf_program__name(p);
    if (IsFallback(pn) || Skipped(share, pn)) bpf_program__set_autoload(p, false);
  }
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    const char* n = bpf_map__name(m);
    if (strstr(n, ".data.cfg")) bpf_map__set_initial_value(m, &cfg, sizeof(cfg));
    if (!strcmp(n, "events") && ring_bytes) bpf_map__set_max_entries(m, ring_bytes);
    // A map type this kernel lacks (task storage before 5.11) is not created,
    // so it cannot fail the object: programs use it only under a CO-RE check
    // of the same feature (bpf/common.bpf.h HAVE_TASK_STORAGE).
    if (!MapTypeSupported(bpf_map__type(m))) bpf_map__set_autocreate(m, false);
    for (const auto& [name, fd] : share.reuse_maps)
      if (name == n && fd >= 0) bpf_map__reuse_fd(m, fd);
  }
}

}  // namespace

xctl_cfg DefaultConfig() {
  xctl_cfg c{};
  c.io_min_latency_ns = 10'000'000ULL;
  c.offcpu_min_ns = 10'000'000ULL;
  c.runq_min_ns = 10'000'000ULL;
  c.runq_window_ns = 1'000'000'000ULL;
  c.tcp_flush_ns = 1'000'000'000ULL;
  c.skip_kthreads = 1;
  c.wakeup_bytes = 256 * 1024;
  c.io_waiters = 0;
  c.syscall_flush_ns = 1'000'000'000ULL;
  return c;
}

LoadedFamily::~LoadedFamily() {
  for (auto* l : links) bpf_link__destroy(l);
  links.clear();
  if (obj) bpf_object__close(obj);
  obj = nullptr;
}

uint64_t LoadedFamily::KernelDrops() const {
  if (drops_fd < 0) return 0;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return 0;
  std::vector<uint64_t> vals(ncpu);
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(drops_fd, &zero, vals.data())) return 0;
  uint64_t sum = 0;
  for (auto v : vals) sum += v;
  return sum;
}

bool LoadedFamily::WriteConfig(const xctl_cfg& cfg) {
  if (cfg_fd < 0) return false;
  uint32_t zero = 0;
  return bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY) == 0;
}

int FamilyMapFd(const LoadedFamily& fam, const char* map_name) {
  if (!fam.obj) return -1;
  bpf_map* m = bpf_object__find_map_by_name(fam.obj, map_name);
  return m ? bpf_map__fd(m) : -1;
}

bool ProgramRunning(const LoadedFamily& fam, const std::string& prog) {
  for (const auto& ps : fam.status.programs)
    if ((ps.name == prog && ps.attached) || (ps.name == prog + kFallbackSuffix && ps.attached)) return true;
  return false;
}

std::unique_ptr<LoadedFamily> LoadFamily(const std::string& name, const xctl_cfg& cfg,
                                         uint32_t ring_bytes, const LoadShare& share) {
  auto fam = std::make_unique<LoadedFamily>();
  fam->name = name;
  fam->status.family = name;
  const FamilyDef* def = FindFamily(name);
  if (!def || !def->elf) {
    fam->status.error = "unknown probe family '" + name + "'";
    return fam;
  }
  std::string err;
  LogScope log;
  bpf_object* obj = Open(*def, &err);
  if (!obj) {
    fam->status.error = err;
    return fam;
  }
  ApplyPreload(obj, cfg, ring_bytes, share);
  int rc = bpf_object__load(obj);
  if (rc) {
    // Find which programs fail on their own, then load the rest without them.
    std::string whole = Reason(rc, "load " + name) + "; " + Excerpt(log.text);
    std::vector<std::string> progs, bad;
    bpf_program* p;
    bpf_object__for_each_program(p, obj) progs.push_back(bpf_program__name(p));
    bpf_object__close(obj);
    obj = nullptr;
    for (const auto& only : progs) {
      if (IsFallback(only) || Skipped(share, only)) continue;
      std::string e2;
      log.text.clear();
      bpf_object* probe = Open(*def, &e2);
      if (!probe) break;
      ApplyPreload(probe, cfg, ring_bytes, share);
      bpf_object__for_each_program(p, probe) bpf_program__set_autoload(p, only == bpf_program__name(p));
      int r = bpf_object__load(probe);
      if (r) {
        bad.push_back(only);
        ProgramStatus ps;
        ps.name = only;
        ps.error = Reason(r, "load") + "; log: " + Excerpt(log.text);
        fam->status.programs.push_back(ps);
      }
      bpf_object__close(probe);
    }
    // Lost only when nothing would load: every primary fails and none has a fallback.
    size_t primaries = 0, fallbacks = 0;
    for (const auto& pn : progs) primaries += (IsFallback(pn) || Skipped(share, pn)) ? 0 : 1;
    for (const auto& b : bad)
      fallbacks += std::count(progs.begin(), progs.end(), b + kFallbackSuffix);
    if (bad.size() == primaries && fallbacks == 0) {
      fam->status.error = whole;
      return fam;
    }
    obj = Open(*def, &err);
    if (!obj) {
      fam->status.error = err;
      return fam;
    }
    ApplyPreload(obj, cfg, ring_bytes, share);
    bpf_object__for_each_program(p, obj) {
      std::string pn = bpf_program__name(p);
      for (const auto& b : bad) {
        if (b == pn) bpf_program__set_autoload(p, false);
        if (pn == b + kFallbackSuffix) bpf_program__set_autoload(p, true);  // the older-kernel variant
      }
    }
    rc = bpf_object__load(obj);
    if (rc) {
      fam->status.error = whole;
      bpf_object__close(obj);
      return fam;
    }
    for (auto& ps : fam->status.programs) {  // the primaries that failed: which fallback runs instead
      bpf_program* fb = bpf_object__find_program_by_name(obj, (ps.name + kFallbackSuffix).c_str());
      if (fb) ps.covered_by = bpf_program__name(fb);
    }
  }
  fam->obj = obj;
  fam->status.loaded = true;

  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    const char* n = bpf_map__name(m);
    if (!strcmp(n, "events")) {
      fam->ring_fd = bpf_map__fd(m);
      fam->ring_bytes = bpf_map__max_entries(m);
    } else if (!strcmp(n, "drops")) {
      fam->drops_fd = bpf_map__fd(m);
    } else if (strstr(n, ".data.cfg")) {
      fam->cfg_fd = bpf_map__fd(m);
    }
  }

  bpf_program* p;
  bpf_object__for_each_program(p, obj) {
    if (!bpf_program__autoload(p)) continue;
    ProgramStatus ps;
    ps.name = bpf_program__name(p);
    ps.section = bpf_program__section_name(p);
    ps.prog_fd = bpf_program__fd(p);
    if (ps.section == "uprobe" || ps.section == "uretprobe") {
      // no target in the section: attached per library path at run time (native/uprobes.cc)
      ps.error = "attached on demand: no process maps its library yet";
      fam->status.programs.push_back(ps);
      continue;
    }
    log.text.clear();
    bpf_link* link = bpf_program__attach(p);
    if (!link) {
      int e = errno;
      ps.error = Reason(e, "attach " + ps.section);
      std::string ex = Excerpt(log.text, 3);
      if (!ex.empty()) ps.error += "; " + ex;
    } else {
      ps.attached = true;
      fam->links.push_back(link);
    }
    fam->status.programs.push_back(ps);
  }
  return fam;
}
