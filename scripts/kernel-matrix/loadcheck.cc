// The project's own loader (native/probe_set.cc LoadFamily: feature-selected
// maps, `X__fallback` programs, the status reasons) run over every family, as
// the addon runs it, without node: one line per program and one per family.
//   KX|PROG|family|program|attached|replaced (by its fallback)|loaded (attach on demand)|FAILED|reason
//   KX|FAMILY|family|full|reduced: programs...|LOST: reason|default|optional
// (BPF families of native/probe_set.cc's table; NVML's gpu family is not BPF).
// Built and run by scripts/kernel-matrix.sh (inside each kernel and natively).
#include <cstdio>
#include <string>

#include "../../native/probe_set.h"

namespace {

std::string OneLine(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '|') c = ' ';
  return s;
}

}  // namespace

int main() {
  int reduced_or_lost = 0;
  for (const auto& def : Families()) {
    if (!def.elf || def.internal) continue;
    const std::string name = def.name;
    const char* role = def.on_by_default ? "default" : "optional";
    auto fam = LoadFamily(name, DefaultConfig(), 0);
    const FamilyStatus& st = fam->status;
    if (!st.loaded) {
      printf("KX|FAMILY|%s|LOST: %s|%s\n", name.c_str(), OneLine(st.error).c_str(), role);
      reduced_or_lost++;
      continue;
    }
    std::string missing;
    for (const auto& p : st.programs) {
      const char* state = p.attached             ? "attached"
                          : !p.covered_by.empty() ? "replaced"
                          : p.prog_fd >= 0        ? "loaded (attach on demand)"
                                                  : "FAILED";
      std::string why = (p.covered_by.empty() || p.attached ? "" : "by " + p.covered_by + "; ") + p.error;
      printf("KX|PROG|%s|%s|%s|%s\n", name.c_str(), p.name.c_str(), state, OneLine(why).c_str());
      bool on_demand = !p.attached && p.prog_fd >= 0;
      if (!p.attached && !on_demand && p.covered_by.empty())
        missing += (missing.empty() ? "" : ", ") + p.name;
    }
    if (missing.empty())
      printf("KX|FAMILY|%s|full|%s\n", name.c_str(), role);
    else {
      printf("KX|FAMILY|%s|reduced: %s|%s\n", name.c_str(), missing.c_str(), role);
      reduced_or_lost++;
    }
  }
  return reduced_or_lost ? 1 : 0;
}
