/* xctl record layout, version 1.
 *
 * The single definition of what crosses kernel -> addon -> JS -> recording files.
 * Every record is exactly XCTL_RECORD_SIZE bytes: a common header followed by a
 * per-kind payload. XCTL_KINDS below lists every kind once; scripts/gen-layout.js
 * reads this header's BTF at build time and generates the TypeScript field tables
 * (src/events/layout.gen.ts), the kind registry (src/kinds/registry.gen.ts) and the
 * addon's field list (native/xctl_fields.gen.h). test/layout.test.ts proves the
 * addon's offsetof() and the generated offsets agree.
 * A kind's layout is hashed on its own (recordings keep per-kind hashes): adding a
 * kind keeps older recordings readable, changing one kind's struct makes replay skip
 * (and name) only that kind. Change struct xctl_hdr => bump XCTL_RECORD_VERSION.
 *
 * Included by BPF programs (with vmlinux.h types) and by C/C++ userspace
 * (with <linux/types.h>), so it uses only __u8/__u16/__u32/__u64/__s32.
 */
#ifndef XCTL_RECORD_H
#define XCTL_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define XCTL_RECORD_VERSION 1
#define XCTL_RECORD_SIZE 128
#define XCTL_COMM_LEN 16
#define XCTL_FILENAME_LEN 64

/* Every record kind, once: X(NAME, number, union member, struct tag).
 * Expanded into enum xctl_kind, the union in struct xctl_record, the addon's kind
 * table and (by scripts/gen-layout.js) the TypeScript kind list, whose kind name is
 * NAME in lower case and whose module is src/kinds/<name with '-' for '_'>.ts.
 * Numbers are ABI (recordings keep them): never reuse one. */
#define XCTL_KINDS(X) \
	X(TCP_RETRANSMIT, 1, tcp, xctl_tcp) \
	X(BLOCK_IO, 2, io, xctl_block_io) \
	X(EXEC, 3, exec, xctl_exec) \
	X(EXIT, 4, exit, xctl_exit) \
	X(SIGNAL, 5, sig, xctl_signal) \
	X(OOM_KILL, 6, oom, xctl_oom) \
	X(FORK, 7, fork, xctl_fork) \
	X(OFFCPU, 8, off, xctl_offcpu) \
	X(GPU_SAMPLE, 10, gpu, xctl_gpu_sample)       /* NVML sampler (userspace): one per GPU per interval */ \
	X(GPU_PROC_MEM, 11, gmem, xctl_gpu_proc_mem)  /* NVML sampler: GPU memory of one process (header = the process) */ \
	X(GPU_EVENT, 12, gev, xctl_gpu_event)         /* NVML event set: Xid, ECC, GPU unavailable */ \
	X(CUDA_ALLOC, 13, cuda, xctl_cuda_alloc)      /* uprobe/uretprobe on CUDA allocation calls */ \
	X(NCCL_CALL, 14, nccl, xctl_nccl_call)        /* uprobe/uretprobe on NCCL collectives */ \
	X(SYSCALL_ERROR, 15, sce, xctl_syscall_error) /* failed syscalls, counted per process x syscall x errno in the kernel */ \
	X(WAIT_TOTAL, 16, wt, xctl_wait_total)        /* sched: a thread's waits of one state, summed in the kernel per window */

/* Reserved, never an XCTL_KINDS entry (it was BENCH): synthetic test records, such
 * as the internal bench family's load generator emits (payload in bench/bench_record.h).
 * Production code knows no payload for them: they are counted as records of an
 * unknown kind and never reach the graph; replay skips them. */
#define XCTL_KIND_SYNTHETIC 9

enum xctl_kind {
#define XCTL_KIND_ENUM(NAME, num, member, tag) XCTL_KIND_##NAME = num,
	XCTL_KINDS(XCTL_KIND_ENUM)
#undef XCTL_KIND_ENUM
};

/* header.flags */
#define XCTL_F_KTHREAD 0x01      /* the attributed task is a kernel thread */
#define XCTL_F_NO_OWNER 0x02     /* kernel could not attribute: userspace must resolve */

/* block_io.flags */
#define XCTL_IO_F_WRITE 0x01
#define XCTL_IO_F_WAITER 0x02    /* seen from the waiting task (includes cgroup throttle delay) */
#define XCTL_IO_F_FLUSH 0x04
#define XCTL_IO_F_SYNC 0x08

/* offcpu.state */
#define XCTL_OFFCPU_RUNQ 0          /* runnable, waiting for a CPU */
#define XCTL_OFFCPU_SLEEP 1         /* interruptible sleep (S) */
#define XCTL_OFFCPU_BLOCKED 2       /* uninterruptible sleep (D) */
/* offcpu.flags */
#define XCTL_OFFCPU_F_IOWAIT 0x01   /* D sleep inside io_schedule() */
#define XCTL_OFFCPU_F_AGGREGATE 0x02 /* sum of several run-queue waits in one window */
#define XCTL_OFFCPU_F_WAKER_IRQ 0x04 /* woken from idle/irq context: waker is not a real cause */
#define XCTL_OFFCPU_F_DETAIL 0x08   /* one long wait, for its waker: its time is also in a wait_total record */

/* wait_total.flags */
#define XCTL_WAIT_F_EXIT 0x01       /* flushed at the thread's exit (a partial window) */
#define XCTL_WAIT_F_HIST_SAT 0x02   /* a histogram bucket reached 65535 (saturated; sum and count stay exact) */
#define XCTL_WAIT_HIST_BUCKETS 20   /* log2 of microseconds: [0] < 2 us, [b] [2^b, 2^(b+1)) us, [19] >= 2^19 us */

/* tcp.owner_src */
#define XCTL_OWNER_NONE 0
#define XCTL_OWNER_KERNEL 1         /* from the socket->owner map filled in process context */
#define XCTL_OWNER_USERSPACE 2      /* resolved after the fact from /proc/<pid>/fd (socket predates the agent) */

struct xctl_hdr {
	__u64 ts_ns;                /* 0  CLOCK_BOOTTIME ns (bpf_ktime_get_boot_ns) */
	__u64 start_ns;             /* 8  start time (boot ns) of the attributed process: pid reuse guard */
	__u64 cgroup_id;            /* 16 cgroup v2 id of the attributed task (0 if unknown) */
	__u32 pid;                  /* 24 attributed process (tgid) */
	__u32 tid;                  /* 28 attributed thread */
	__u16 kind;                 /* 32 enum xctl_kind */
	__u8 version;               /* 34 XCTL_RECORD_VERSION */
	__u8 flags;                 /* 35 XCTL_F_* */
	__u32 cpu;                  /* 36 CPU the probe ran on */
	char comm[XCTL_COMM_LEN];   /* 40 attributed task's comm */
};                              /* 56 */

struct xctl_tcp {               /* kind TCP_RETRANSMIT; counts aggregated per socket and interval */
	__u8 saddr[16];             /* 56 IPv4 in the first 4 bytes, or IPv6 */
	__u8 daddr[16];             /* 72 */
	__u16 sport;                /* 88 host order */
	__u16 dport;                /* 90 host order */
	__u16 family;               /* 92 AF_INET 2 / AF_INET6 10 */
	__u8 state;                 /* 94 TCP state at the last retransmit */
	__u8 owner_src;             /* 95 XCTL_OWNER_* */
	__u32 count;                /* 96 retransmit events in this record */
	__u32 segs;                 /* 100 segments retransmitted (TSO/GSO aware; matches RetransSegs) */
	__u64 sock_ino;             /* 104 socket inode: userspace fallback owner lookup (/proc/<pid>/fd) */
	__u64 first_ts_ns;          /* 112 first retransmit covered by this record */
	__u64 skaddr;               /* 120 kernel socket address (identity only) */
};

struct xctl_block_io {          /* kind BLOCK_IO */
	__u32 dev;                  /* 56 kernel dev_t: major << 20 | minor */
	__u32 bytes;                /* 60 */
	__u64 sector;               /* 64 */
	__u64 latency_ns;           /* 72 issue -> complete, or sleep time for XCTL_IO_F_WAITER */
	__s32 error;                /* 80 negative errno, 0 on success */
	__u16 flags;                /* 84 XCTL_IO_F_* */
	__u16 _pad;                 /* 86 */
	__u64 device_ns;            /* 88 issue -> complete of the request itself */
	__u8 _rsvd[32];             /* 96 */
};

struct xctl_exec {              /* kind EXEC */
	__u32 ppid;                 /* 56 */
	__u32 _pad;                 /* 60 */
	char filename[XCTL_FILENAME_LEN]; /* 64 truncated to 63 bytes + NUL */
};

struct xctl_exit {              /* kind EXIT: the whole thread group is gone */
	__s32 exit_code;            /* 56 status >> 8 when not signalled */
	__u32 signal;               /* 60 terminating signal, 0 if exited normally */
	__u32 ppid;                 /* 64 */
	__u8 core_dumped;           /* 68 */
	__u8 _pad[3];               /* 69 */
	__u64 runtime_ns;           /* 72 wall time since start */
	__u32 raw_status;           /* 80 task->exit_code as the kernel keeps it */
	__u8 _rsvd[44];             /* 84 */
};

struct xctl_signal {            /* kind SIGNAL: header = sender, payload = target */
	__u32 target_pid;           /* 56 tgid */
	__u32 target_tid;           /* 60 */
	__u32 sig;                  /* 64 */
	__s32 result;               /* 68 TRACE_SIGNAL_* (0 delivered) */
	__s32 code;                 /* 72 si_code */
	__u8 handled;               /* 76 target installed a handler */
	__u8 _pad[3];               /* 77 */
	char target_comm[XCTL_COMM_LEN]; /* 80 */
	__u64 target_start_ns;      /* 96 */
	__u8 _rsvd[24];             /* 104 */
};

struct xctl_oom {               /* kind OOM_KILL: header = victim */
	__u32 trigger_pid;          /* 56 the allocating process that ran the OOM killer */
	__u32 uid;                  /* 60 */
	__u64 total_vm_kb;          /* 64 */
	__u64 anon_rss_kb;          /* 72 */
	__u64 file_rss_kb;          /* 80 */
	__u64 shmem_rss_kb;         /* 88 */
	__s32 oom_score_adj;        /* 96 */
	__u32 _pad;                 /* 100 */
	char trigger_comm[XCTL_COMM_LEN]; /* 104 */
	__u64 _rsvd;                /* 120 */
};

struct xctl_fork {              /* kind FORK: header = parent, a new process (not thread) */
	__u32 child_pid;            /* 56 */
	__u32 _pad;                 /* 60 */
	__u64 child_start_ns;       /* 64 */
	__u8 _rsvd[56];             /* 72 */
};

struct xctl_offcpu {            /* kind OFFCPU */
	__u64 duration_ns;          /* 56 wait time (sum when XCTL_OFFCPU_F_AGGREGATE) */
	__u64 max_ns;               /* 64 longest single wait in the record */
	__u32 count;                /* 72 waits in the record */
	__u8 state;                 /* 76 XCTL_OFFCPU_* */
	__u8 flags;                 /* 77 XCTL_OFFCPU_F_* */
	__u16 _pad;                 /* 78 */
	__u32 waker_pid;            /* 80 tgid of the task that woke us (0 unknown) */
	__u32 waker_tid;            /* 84 */
	char waker_comm[XCTL_COMM_LEN]; /* 88 */
	__u64 waker_start_ns;       /* 104 */
	__u8 _rsvd[16];             /* 112 */
};

/* Every wait of one state (XCTL_OFFCPU_*) a thread had in one window, whatever
 * the per-event thresholds: the kernel sums them in per-thread storage and emits
 * one record per state at the thread's first switch-in after the window (or at
 * its exit). Exact totals; offcpu records are only the detail of long waits. */
struct xctl_wait_total {        /* kind WAIT_TOTAL: header = the thread */
	__u64 total_ns;             /* 56 sum of the waits */
	__u64 max_ns;               /* 64 longest single wait */
	__u64 window_ns;            /* 72 from the first wait's end in the window to the flush */
	__u32 count;                /* 80 waits */
	__u8 state;                 /* 84 XCTL_OFFCPU_* */
	__u8 flags;                 /* 85 XCTL_WAIT_F_* */
	__u16 _pad;                 /* 86 */
	__u8 hist[2 * XCTL_WAIT_HIST_BUCKETS]; /* 88 __u16 (host order) waits per log2(us) bucket, saturating */
};

/* gpu_sample.valid: which fields NVML answered (others are 0) */
#define XCTL_GPU_V_MEM 0x001
#define XCTL_GPU_V_UTIL 0x002
#define XCTL_GPU_V_TEMP 0x004
#define XCTL_GPU_V_POWER 0x008
#define XCTL_GPU_V_CLOCKS 0x010
#define XCTL_GPU_V_ECC 0x020
#define XCTL_GPU_V_REMAP 0x040
#define XCTL_GPU_V_PCIE 0x080

/* NVML event type bits (nvmlEventType*), as carried by gpu_event.event_type */
#define XCTL_NVML_EV_SBE 0x1ULL
#define XCTL_NVML_EV_DBE 0x2ULL
#define XCTL_NVML_EV_XID 0x8ULL
#define XCTL_NVML_EV_GPU_UNAVAILABLE 0x4000ULL

/* GPU records are produced in userspace (native/nvml.cc): header pid/comm are
 * 0/the GPU name (truncated) for gpu_sample and gpu_event, the process for
 * gpu_proc_mem. */
struct xctl_gpu_sample {        /* kind GPU_SAMPLE */
	__u32 gpu;                  /* 56 NVML device index */
	__u32 power_mw;             /* 60 */
	__u64 mem_used;             /* 64 bytes */
	__u64 mem_total;            /* 72 bytes */
	__u64 clock_reasons;        /* 80 nvmlClocksEventReason* bits */
	__u64 ecc_sbe;              /* 88 volatile corrected ECC errors */
	__u64 ecc_dbe;              /* 96 volatile uncorrected ECC errors */
	__u32 pcie_replays;         /* 104 */
	__u8 util_gpu;              /* 108 percent */
	__u8 util_mem;              /* 109 percent */
	__u8 temp_c;                /* 110 */
	__u8 remap_pending;         /* 111 row remapping pending (1/0) */
	__u16 valid;                /* 112 XCTL_GPU_V_* */
	__u16 _pad;                 /* 114 */
	__u32 uuid_hash;            /* 116 FNV-1a of the UUID string */
	char uuid[8];               /* 120 first 8 hex digits after "GPU-" (not NUL-terminated when full) */
};

struct xctl_gpu_proc_mem {      /* kind GPU_PROC_MEM: header = the process */
	__u32 gpu;                  /* 56 */
	__u32 uuid_hash;            /* 60 */
	__u64 used_bytes;           /* 64 usedGpuMemory */
	__u64 mem_total;            /* 72 the GPU's total memory */
	__u8 _rsvd[48];             /* 80 */
};

struct xctl_gpu_event {         /* kind GPU_EVENT */
	__u32 gpu;                  /* 56 */
	__u32 uuid_hash;            /* 60 */
	__u64 event_type;           /* 64 nvmlEventType* bits */
	__u64 event_data;           /* 72 Xid number for XidCriticalError */
	__u32 gpu_instance;         /* 80 */
	__u32 compute_instance;     /* 84 */
	__s32 nvml_status;          /* 88 nvmlReturn_t that revealed a lost GPU (0 otherwise) */
	__u8 _rsvd[36];             /* 92 */
};

/* cuda_alloc.fn */
#define XCTL_CUDA_FN_CUDA_MALLOC 1
#define XCTL_CUDA_FN_CU_MEM_ALLOC 2
#define XCTL_CUDA_FN_CUDA_MALLOC_MANAGED 3
#define XCTL_CUDA_FN_CUDA_MALLOC_ASYNC 4

struct xctl_cuda_alloc {        /* kind CUDA_ALLOC: header = the calling thread */
	__u32 fn;                   /* 56 XCTL_CUDA_FN_* */
	__s32 result;               /* 60 cudaError_t / CUresult (2 = out of memory) */
	__u64 size;                 /* 64 requested bytes */
	__u64 latency_ns;           /* 72 entry -> return */
	__u64 ptr;                  /* 80 returned device pointer (0 on failure) */
	__u8 _rsvd[40];             /* 88 */
};

/* nccl_call.fn */
#define XCTL_NCCL_FN_ALLREDUCE 1
#define XCTL_NCCL_FN_BROADCAST 2
#define XCTL_NCCL_FN_REDUCE 3
#define XCTL_NCCL_FN_ALLGATHER 4
#define XCTL_NCCL_FN_REDUCESCATTER 5
#define XCTL_NCCL_FN_SEND 6
#define XCTL_NCCL_FN_RECV 7
#define XCTL_NCCL_FN_GROUP_END 8
/* nccl_call.phase */
#define XCTL_NCCL_ENTER 0
#define XCTL_NCCL_EXIT 1
#define XCTL_NCCL_INFLIGHT 2        /* entered, not returned after the threshold */

struct xctl_nccl_call {         /* kind NCCL_CALL: header = the calling thread */
	__u32 fn;                   /* 56 XCTL_NCCL_FN_* */
	__u8 phase;                 /* 60 XCTL_NCCL_* */
	__u8 _pad[3];               /* 61 */
	__u64 duration_ns;          /* 64 exit: entry -> return; inflight: time since entry */
	__u64 comm;                 /* 72 ncclComm_t (identity only) */
	__u64 count;                /* 80 element count */
	__u32 datatype;             /* 88 ncclDataType_t */
	__s32 result;               /* 92 ncclResult_t on exit */
	__u8 _rsvd[32];             /* 96 */
};

/* syscall_error.sc: the syscalls the family watches (its own numbers, not the arch's) */
#define XCTL_SC_OPEN 1
#define XCTL_SC_OPENAT 2
#define XCTL_SC_WRITE 3
#define XCTL_SC_PWRITE64 4
#define XCTL_SC_FSYNC 5
#define XCTL_SC_FDATASYNC 6
#define XCTL_SC_CONNECT 7
#define XCTL_SC_ACCEPT 8
#define XCTL_SC_ACCEPT4 9
#define XCTL_SC_MMAP 10
#define XCTL_SC_CLONE 11
#define XCTL_SC_CLONE3 12
/* syscall_error.reason: why this record was sent */
#define XCTL_SCR_FIRST 1            /* the first error of this (process, syscall, errno): sent at once */
#define XCTL_SCR_INTERVAL 2         /* the errors since the previous record, flushed on the interval */
#define XCTL_SCR_EXIT 3             /* the errors since the previous record, flushed at process exit */
#define XCTL_SCR_UNAGGREGATED 4     /* the process table was full: one record per error */
/* syscall_error.sample_kind: what sample[] holds (taken at the key's first error) */
#define XCTL_SCS_NONE 0
#define XCTL_SCS_PATH 1             /* the path argument, NUL-terminated (open, openat) */
#define XCTL_SCS_FILE 2             /* the fd's file: __u32 dev (major << 20 | minor), __u32 fs magic, name[28] */
#define XCTL_SCS_ADDR 3             /* the peer: __u16 family, __u16 port (host order), __u8 addr[16] */
/* syscall_error.sample_flags */
#define XCTL_SCS_F_AT_ROOT 0x01     /* FILE: the file sits in its mount's root directory */

struct xctl_syscall_error {     /* kind SYSCALL_ERROR: header = the process (thread of its first error) */
	__u16 sc;                   /* 56 XCTL_SC_* */
	__u16 err;                  /* 58 errno (positive) */
	__u32 count;                /* 60 errors since the previous record of this key (sum over records = total) */
	__u64 first_ts_ns;          /* 64 first error of this key */
	__u64 last_ts_ns;           /* 72 newest error covered by this record */
	__s32 fd;                   /* 80 fd argument (-1: none) */
	__u32 total;                /* 84 errors of this key so far */
	__u8 reason;                /* 88 XCTL_SCR_* */
	__u8 sample_kind;           /* 89 XCTL_SCS_* */
	__u8 sample_flags;          /* 90 XCTL_SCS_F_* */
	__u8 _pad;                  /* 91 */
	__u8 sample[36];            /* 92 see XCTL_SCS_* */
};

struct xctl_record {
	struct xctl_hdr h;
	union {
#define XCTL_KIND_MEMBER(NAME, num, member, tag) struct tag member;
		XCTL_KINDS(XCTL_KIND_MEMBER)
#undef XCTL_KIND_MEMBER
	};
};

/* Tunables every program reads from its writable .data.cfg section. The addon
 * writes them before load and may change them while running (mmap'd). */
struct xctl_cfg {
	__u64 io_min_latency_ns;    /* block_io emitted if latency >= this (errors always) */
	__u64 offcpu_min_ns;        /* S/D waits emitted if >= this */
	__u64 runq_min_ns;          /* run-queue delay emitted if >= this (single or per window) */
	__u64 runq_window_ns;       /* aggregation window for run-queue delay */
	__u64 tcp_flush_ns;         /* per-socket retransmit aggregation interval */
	__u32 skip_kthreads;        /* sched: ignore kernel threads */
	__u32 wakeup_bytes;         /* wake the consumer only once this much is queued (else it drains on its timer) */
	__u32 io_waiters;           /* sched: also emit the io family's waiter records (both families on; the loader sets it) */
	__u32 _cfg_pad;
	__u64 syscall_flush_ns;     /* syscall errors: interval of the per-process count flush */
};

#endif
