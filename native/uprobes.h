// User-space probes of the cuda family (bpf/gpu.bpf.c): attached at run time
// per library path (every mapped copy of libcudart/libcuda/libnccl that JS
// discovers in /proc/*/maps), detached when no process maps the path any more.
// Also scans the NCCL in-flight map for collectives that entered and have not
// returned, turning them into nccl_call records (phase inflight).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "../bpf/xctl_record.h"
#include "probe_set.h"

struct bpf_link;

struct UprobeAttachResult {
  std::string path;
  std::vector<std::string> functions;  // attached, e.g. "cudaMalloc", "cudaMalloc (return)"
  std::string error;                   // when nothing could be attached
};

class UprobeManager {
 public:
  explicit UprobeManager(LoadedFamily* fam);
  ~UprobeManager();
  // Which library kind a path is ("cudart", "cuda", "nccl"), or "" when none.
  static std::string LibraryKind(const std::string& path);
  UprobeAttachResult Attach(const std::string& path);
  bool Detach(const std::string& path);
  std::vector<std::string> Paths() const;
  // Collectives in flight for at least threshold_ns, as records.
  std::vector<xctl_record> Inflight(uint64_t now_ns, uint64_t threshold_ns);
  // Refresh the family status: a program is attached while it has a link.
  void UpdateStatus(FamilyStatus* st) const;

 private:
  LoadedFamily* fam_;
  int inflight_fd_ = -1;
  std::map<std::string, std::vector<std::pair<std::string, bpf_link*>>> links_;  // path -> (program, link)
};
