// Loads the xctl BPF objects (embedded bpftool skeleton bytes), attaches each
// program on its own so one failure does not take the family down, and keeps
// per-program status with the kernel's reason for anything that failed.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../bpf/xctl_record.h"

struct bpf_object;
struct bpf_link;

struct ProgramStatus {
  std::string name;
  std::string section;
  bool attached = false;
  std::string error;
  std::string covered_by;  // the `X__fallback` program that runs in its place, if any
  int prog_fd = -1;
};

struct FamilyStatus {
  std::string family;
  bool loaded = false;
  std::string error;
  std::vector<ProgramStatus> programs;
};

// Where a family's records come from.
enum class FamilySource { kBpf, kNvml, kUprobe };

// The one table of probe families (probe_set.cc): everything else, in C++
// and in TypeScript (addon.families()), derives from it.
struct FamilyDef {
  const char* name;
  FamilySource source;
  const void* (*elf)(size_t*);  // embedded BPF object bytes; null for NVML
  const char* object;           // bpf/<object>.bpf.c, embedded as a skeleton; "" for NVML
  bool on_by_default;
  bool internal;                // benchmarks/tests only: accepted, not advertised
  const char* description;
};

const char* SourceName(FamilySource s);

class LoadedFamily {
 public:
  ~LoadedFamily();
  std::string name;
  bpf_object* obj = nullptr;
  std::vector<bpf_link*> links;
  FamilyStatus status;
  int ring_fd = -1;
  uint32_t ring_bytes = 0;
  int drops_fd = -1;
  int cfg_fd = -1;

  uint64_t KernelDrops() const;
  bool WriteConfig(const xctl_cfg& cfg);
};

// The family table, in load order.
const std::vector<FamilyDef>& Families();
const FamilyDef* FindFamily(const std::string& name);

// How one family shares a hook with another already loaded (one program per
// hook): maps to take from it instead of creating, and programs not to load
// because the other family's programs do their work.
struct LoadShare {
  std::vector<std::pair<std::string, int>> reuse_maps;  // map name -> fd of the other object's map
  std::vector<std::string> skip_programs;
};

// Opens, loads and attaches one family. Never returns null: on failure the
// returned object has status.loaded == false and the reason in status.error.
std::unique_ptr<LoadedFamily> LoadFamily(const std::string& name, const xctl_cfg& cfg,
                                         uint32_t ring_bytes, const LoadShare& share = {});

// The fd of a loaded family's map, -1 if it has none of that name.
int FamilyMapFd(const LoadedFamily& fam, const char* map_name);

// Whether a loaded family's program is attached (by name, or by its `__fallback`).
bool ProgramRunning(const LoadedFamily& fam, const std::string& prog);

xctl_cfg DefaultConfig();
