/* A test NVML: exports the real libnvidia-ml.so.1 symbol names with the exact
 * ABI of nvml.h (../shared/reference/gpu.md), with state driven by the test.
 *
 * State file: $FAKE_NVML_STATE, re-read on every call, `key=value` lines:
 *   init_error=9            nvmlInit fails with this nvmlReturn_t
 *   driver=550.54.15        driver version
 *   gpus=2                  device count
 *   gpu0.name=NVIDIA H100 80GB HBM3   gpu0.uuid=GPU-....
 *   gpu0.mem_total=85899345920  gpu0.mem_used=...  gpu0.util=97  gpu0.mem_util=40
 *   gpu0.temp=65  gpu0.power=300000 (mW)  gpu0.clock_reasons=0x40
 *   gpu0.ecc_sbe=0 gpu0.ecc_dbe=0 gpu0.remap_pending=1 gpu0.pcie_replays=0
 *   gpu0.procs=pid:bytes,pid:bytes
 *   gpu0.error=15           every per-device query of gpu0 returns this (e.g. GPU_IS_LOST)
 *   event=gpu:type:data     delivered once by nvmlEventSetWait (type 8 = Xid, data = Xid number)
 * Delivered events are remembered by line number in a per-event-set cursor, so
 * the test only ever appends.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct fake_dev *nvmlDevice_t;
typedef struct fake_set *nvmlEventSet_t;

typedef struct { unsigned int gpu; unsigned int memory; } nvmlUtilization_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; unsigned int gpuInstanceId, computeInstanceId; } nvmlProcessInfo_t;
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; } nvmlProcessInfo_v1_t;
typedef struct { nvmlDevice_t device; unsigned long long eventType, eventData; unsigned int gpuInstanceId, computeInstanceId; } nvmlEventData_t;

_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_t v3 is 24 bytes");
_Static_assert(sizeof(nvmlEventData_t) == 32, "nvmlEventData_t is 32 bytes");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t is 24 bytes");

#define MAX_GPUS 16
#define MAX_PROCS 32
#define MAX_EVENTS 256

struct fake_dev { unsigned idx; };
struct fake_set { unsigned long long types[MAX_GPUS]; int cursor; };

struct gpu_state {
  char name[96], uuid[96];
  unsigned long long mem_total, mem_used, clock_reasons, ecc_sbe, ecc_dbe;
  unsigned util, mem_util, temp, power, remap_pending, pcie_replays, nprocs;
  int error;
  unsigned pids[MAX_PROCS];
  unsigned long long pmem[MAX_PROCS];
};
struct event { unsigned gpu; unsigned long long type, data; };
struct state {
  int init_error;
  char driver[80];
  unsigned ngpus;
  struct gpu_state g[MAX_GPUS];
  int nevents;
  struct event ev[MAX_EVENTS];
};

static struct fake_dev g_devs[MAX_GPUS];
static int g_inited;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void load(struct state *s) {
  memset(s, 0, sizeof(*s));
  strcpy(s->driver, "550.54.15");
  s->ngpus = 1;
  for (unsigned i = 0; i < MAX_GPUS; i++) {
    snprintf(s->g[i].name, sizeof(s->g[i].name), "NVIDIA H100 80GB HBM3");
    snprintf(s->g[i].uuid, sizeof(s->g[i].uuid), "GPU-%08x-1111-2222-3333-44445555666%x", 0xfa4e0000u + i, i);
    s->g[i].mem_total = 85899345920ULL;
    s->g[i].temp = 40;
    s->g[i].power = 70000;
  }
  const char *path = getenv("FAKE_NVML_STATE");
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) return;
  char line[1024];
  while (fgets(line, sizeof(line), f)) {
    line[strcspn(line, "\r\n")] = 0;
    char *eq = strchr(line, '=');
    if (!eq || line[0] == '#') continue;
    *eq = 0;
    const char *k = line, *v = eq + 1;
    if (!strcmp(k, "init_error")) s->init_error = atoi(v);
    else if (!strcmp(k, "driver")) snprintf(s->driver, sizeof(s->driver), "%s", v);
    else if (!strcmp(k, "gpus")) { s->ngpus = (unsigned)atoi(v); if (s->ngpus > MAX_GPUS) s->ngpus = MAX_GPUS; }
    else if (!strcmp(k, "event")) {
      unsigned gpu; unsigned long long type, data;
      if (s->nevents < MAX_EVENTS && sscanf(v, "%u:%lli:%lli", &gpu, &type, &data) == 3)
        s->ev[s->nevents++] = (struct event){gpu, type, data};
    } else if (!strncmp(k, "gpu", 3)) {
      char *dot;
      unsigned i = (unsigned)strtoul(k + 3, &dot, 10);
      if (*dot != '.' || i >= MAX_GPUS) continue;
      const char *f2 = dot + 1;
      struct gpu_state *g = &s->g[i];
      unsigned long long n = strtoull(v, NULL, 0);
      if (!strcmp(f2, "name")) snprintf(g->name, sizeof(g->name), "%s", v);
      else if (!strcmp(f2, "uuid")) snprintf(g->uuid, sizeof(g->uuid), "%s", v);
      else if (!strcmp(f2, "mem_total")) g->mem_total = n;
      else if (!strcmp(f2, "mem_used")) g->mem_used = n;
      else if (!strcmp(f2, "util")) g->util = (unsigned)n;
      else if (!strcmp(f2, "mem_util")) g->mem_util = (unsigned)n;
      else if (!strcmp(f2, "temp")) g->temp = (unsigned)n;
      else if (!strcmp(f2, "power")) g->power = (unsigned)n;
      else if (!strcmp(f2, "clock_reasons")) g->clock_reasons = n;
      else if (!strcmp(f2, "ecc_sbe")) g->ecc_sbe = n;
      else if (!strcmp(f2, "ecc_dbe")) g->ecc_dbe = n;
      else if (!strcmp(f2, "remap_pending")) g->remap_pending = (unsigned)n;
      else if (!strcmp(f2, "pcie_replays")) g->pcie_replays = (unsigned)n;
      else if (!strcmp(f2, "error")) g->error = (int)n;
      else if (!strcmp(f2, "procs")) {
        g->nprocs = 0;
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", v);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && g->nprocs < MAX_PROCS; tok = strtok_r(NULL, ",", &save)) {
          unsigned pid; unsigned long long bytes;
          if (sscanf(tok, "%u:%llu", &pid, &bytes) == 2) { g->pids[g->nprocs] = pid; g->pmem[g->nprocs++] = bytes; }
        }
      }
    }
  }
  fclose(f);
}

#define STATE struct state *s = malloc(sizeof(struct state)); if (!s) return 999; load(s)
#define DEV(dev) \
  if (!g_inited) { free(s); return 1; } \
  if (!(dev) || (dev)->idx >= s->ngpus) { free(s); return 2; } \
  struct gpu_state *g = &s->g[(dev)->idx]; \
  if (g->error) { int e_ = g->error; free(s); return e_; }
#define RET(x) do { nvmlReturn_t r_ = (x); free(s); return r_; } while (0)

nvmlReturn_t nvmlInit_v2(void) {
  STATE;
  int e = s->init_error;
  if (!e) g_inited = 1;
  RET(e);
}
nvmlReturn_t nvmlInit(void) { return nvmlInit_v2(); }
nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { (void)flags; return nvmlInit_v2(); }
nvmlReturn_t nvmlShutdown(void) { g_inited = 0; return 0; }

const char *nvmlErrorString(nvmlReturn_t r) {
  switch (r) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 10: return "Timeout";
    case 12: return "NVML Shared Library Not Found";
    case 13: return "Function Not Found";
    case 15: return "GPU is lost";
    case 16: return "GPU requires reset";
    case 17: return "GPU access blocked by the operating system";
    case 18: return "RM has detected an NVML/RM version mismatch.";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
  STATE;
  if (!g_inited) RET(1);
  if (strlen(s->driver) + 1 > length) RET(7);
  strcpy(version, s->driver);
  RET(0);
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
  STATE;
  if (!g_inited) RET(1);
  if (!count) RET(2);
  *count = s->ngpus;
  RET(0);
}
nvmlReturn_t nvmlDeviceGetCount(unsigned int *count) { return nvmlDeviceGetCount_v2(count); }

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  STATE;
  if (!g_inited) RET(1);
  if (index >= s->ngpus || !device) RET(2);
  g_devs[index].idx = index;
  *device = &g_devs[index];
  RET(0);
}
nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) { return nvmlDeviceGetHandleByIndex_v2(index, device); }

static nvmlReturn_t copy_str(const char *src, char *dst, unsigned int length) {
  if (strlen(src) + 1 > length) return 7;
  strcpy(dst, src);
  return 0;
}
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
  STATE; DEV(device);
  RET(copy_str(g->uuid, uuid, length));
}
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
  STATE; DEV(device);
  RET(copy_str(g->name, name, length));
}
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *m) {
  STATE; DEV(device);
  m->total = g->mem_total;
  m->used = g->mem_used;
  m->free = g->mem_total > g->mem_used ? g->mem_total - g->mem_used : 0;
  RET(0);
}
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *u) {
  STATE; DEV(device);
  u->gpu = g->util;
  u->memory = g->mem_util;
  RET(0);
}
static nvmlReturn_t procs(nvmlDevice_t device, unsigned int *count, void *infos, size_t stride) {
  STATE; DEV(device);
  if (!count) RET(2);
  if (*count < g->nprocs) { *count = g->nprocs; RET(g->nprocs ? 7 : 0); }
  for (unsigned i = 0; i < g->nprocs; i++) {
    char *p = (char *)infos + i * stride;
    memset(p, 0, stride);
    memcpy(p, &g->pids[i], 4);
    memcpy(p + 8, &g->pmem[i], 8);
    if (stride >= 24) { unsigned no = 0xFFFFFFFFu; memcpy(p + 16, &no, 4); memcpy(p + 20, &no, 4); }
  }
  *count = g->nprocs;
  RET(0);
}
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count, nvmlProcessInfo_t *infos) {
  return procs(device, count, infos, sizeof(nvmlProcessInfo_t));
}
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *count, nvmlProcessInfo_v1_t *infos) {
  return procs(device, count, infos, sizeof(nvmlProcessInfo_v1_t));
}
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned int *temp) {
  STATE; DEV(device);
  if (sensor != 0) RET(2);
  *temp = g->temp;
  RET(0);
}
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
  STATE; DEV(device);
  *power = g->power;
  RET(0);
}
nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons) {
  STATE; DEV(device);
  *reasons = g->clock_reasons;
  RET(0);
}
nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons) {
  return nvmlDeviceGetCurrentClocksEventReasons(device, reasons);
}
nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, int errorType, int counterType, unsigned long long *count) {
  STATE; DEV(device);
  if (counterType != 0 && counterType != 1) RET(2);
  *count = errorType == 0 ? g->ecc_sbe : g->ecc_dbe;
  RET(0);
}
nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corr, unsigned int *unc, unsigned int *pending, unsigned int *failure) {
  STATE; DEV(device);
  *corr = 0; *unc = 0; *pending = g->remap_pending; *failure = 0;
  RET(0);
}
nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t device, unsigned int *value) {
  STATE; DEV(device);
  *value = g->pcie_replays;
  RET(0);
}

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
  if (!g_inited) return 1;
  struct fake_set *s = calloc(1, sizeof(*s));
  if (!s) return 999;
  /* events already in the file when the set is created are history, not news */
  struct state *st = malloc(sizeof(struct state));
  if (!st) { free(s); return 999; }
  load(st);
  s->cursor = st->nevents;
  free(st);
  *set = s;
  return 0;
}
nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long types, nvmlEventSet_t set) {
  if (!g_inited) return 1;
  if (!device || !set || device->idx >= MAX_GPUS) return 2;
  set->types[device->idx] |= types;
  return 0;
}
nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
  if (!g_inited) return 1;
  if (!set || !data) return 2;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    pthread_mutex_lock(&g_lock);
    STATE;
    while (set->cursor < s->nevents) {
      struct event e = s->ev[set->cursor++];
      if (e.gpu < MAX_GPUS && (set->types[e.gpu] & e.type)) {
        g_devs[e.gpu].idx = e.gpu;
        memset(data, 0, sizeof(*data));
        data->device = &g_devs[e.gpu];
        data->eventType = e.type;
        data->eventData = e.data;
        data->gpuInstanceId = 0xFFFFFFFFu;
        data->computeInstanceId = 0xFFFFFFFFu;
        free(s);
        pthread_mutex_unlock(&g_lock);
        return 0;
      }
    }
    free(s);
    pthread_mutex_unlock(&g_lock);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
    if (ms >= (long)timeoutms) return 10;
    usleep(20000);
  }
}
nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) { return nvmlEventSetWait_v2(set, data, timeoutms); }
nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) { free(set); return 0; }
