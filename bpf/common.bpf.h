/* Shared by every xctl BPF object: the ring, the drop counter, the tunables
 * and the record header fill. Each object gets its own copy of these maps. */
#ifndef XCTL_COMMON_BPF_H
#define XCTL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "xctl_record.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef XCTL_RING_BYTES
#define XCTL_RING_BYTES (4 << 20)
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XCTL_RING_BYTES);
} events SEC(".maps");

/* bpf_ringbuf_reserve fails silently when the ring is full: count it per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Writable at run time through the mmap'd section (see native/probe_set.cc). */
struct xctl_cfg cfg SEC(".data.cfg") = {
	.io_min_latency_ns = 10000000ULL,
	.offcpu_min_ns = 10000000ULL,
	.runq_min_ns = 10000000ULL,
	.runq_window_ns = 1000000000ULL,
	.tcp_flush_ns = 1000000000ULL,
	.skip_kthreads = 1,
	.wakeup_bytes = 256 * 1024,
	.syscall_flush_ns = 1000000000ULL,
};

#define PF_KTHREAD 0x00200000

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline struct xctl_record *reserve_record(__u16 kind)
{
	struct xctl_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	r->h.ts_ns = bpf_ktime_get_boot_ns();
	r->h.kind = kind;
	r->h.version = XCTL_RECORD_VERSION;
	r->h.flags = 0;
	r->h.cpu = bpf_get_smp_processor_id();
	return r;
}

/* A wakeup per record costs an IPI (several us inside a VM) for every event.
 * Wake the consumer only when a good batch is waiting; otherwise the addon's
 * periodic drain picks records up (default every 50 ms). */
static __always_inline void submit_record(struct xctl_record *r)
{
	__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(r, queued >= cfg.wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline __u64 task_start_ns(struct task_struct *t)
{
	return BPF_CORE_READ(t, group_leader, start_boottime);
}

static __always_inline __u64 task_cgroup_id(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

/* Header identity from an arbitrary task (not necessarily current). */
static __always_inline void fill_task(struct xctl_record *r, struct task_struct *t)
{
	r->h.pid = BPF_CORE_READ(t, tgid);
	r->h.tid = BPF_CORE_READ(t, pid);
	r->h.start_ns = task_start_ns(t);
	r->h.cgroup_id = task_cgroup_id(t);
	bpf_probe_read_kernel_str(r->h.comm, sizeof(r->h.comm), BPF_CORE_READ(t, group_leader, comm));
	if (BPF_CORE_READ(t, flags) & PF_KTHREAD)
		r->h.flags |= XCTL_F_KTHREAD;
}

/* Kernel features, resolved by libbpf against the running kernel's BTF at load
 * time. The branch not taken is dead code the verifier removes before it checks
 * helpers and maps, so one program serves kernels with and without the feature.
 * (A map the loader did not create, see native/probe_set.cc, may only be used
 * under its check: libbpf poisons its references.) */
#ifndef XCTL_OLD_KERNEL_PATHS
#define HAVE_CURRENT_TASK_BTF bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf) /* 5.11 */
#define HAVE_TASK_STORAGE bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_TASK_STORAGE)          /* 5.11 */
#else /* scripts/kernel-matrix/variant-cost.sh: the older kernels' paths, measured on this kernel */
#define HAVE_CURRENT_TASK_BTF 0
#define HAVE_TASK_STORAGE 0
#endif

/* current's process start time and process name (not the thread's: records
 * are attributed to processes), through a pointer the verifier trusts where the
 * kernel can give one, through CO-RE probe reads where it cannot. Returns flags. */
static __always_inline __u32 current_ident(__u64 *start_ns, char *comm, __u32 comm_len)
{
	if (HAVE_CURRENT_TASK_BTF) {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
		*start_ns = task_start_ns(t);
		bpf_probe_read_kernel_str(comm, comm_len, t->group_leader->comm);
		return t->flags;
	}
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);
	*start_ns = BPF_CORE_READ(leader, start_boottime);
	bpf_probe_read_kernel_str(comm, comm_len, &leader->comm);
	return BPF_CORE_READ(t, flags);
}

static __always_inline void fill_current(struct xctl_record *r)
{
	__u64 id = bpf_get_current_pid_tgid();
	r->h.pid = id >> 32;
	r->h.tid = (__u32)id;
	r->h.cgroup_id = bpf_get_current_cgroup_id();
	if (current_ident(&r->h.start_ns, r->h.comm, sizeof(r->h.comm)) & PF_KTHREAD)
		r->h.flags |= XCTL_F_KTHREAD;
}

#endif
