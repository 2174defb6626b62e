/* io family: block request latency and errors, keyed per request.
 *
 * issue -> complete gives the device-side latency and the issuer when the
 * request was issued in process context. Requests issued by kernel threads
 * (cgroup throttling, loop workers, writeback) lose the real process, and the
 * throttle delay happens before issue. So we also watch the other end: the
 * completion wakes the task sleeping in io_schedule(), in the same CPU context,
 * right after block_rq_complete. That waiter record carries the right pid and
 * the latency the process actually saw. */
#include "common.bpf.h"
#include "io_waiter.bpf.h"

#define REQ_OP_MASK 0xff
#define REQ_OP_WRITE 1
#define REQ_OP_FLUSH 2
#define REQ_SYNC (1ULL << 11)

struct issue_info {
	__u64 ts_ns;
	__u64 start_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u8 kthread;
	char comm[XCTL_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* struct request * */
	__type(value, struct issue_info);
} inflight SEC(".maps");

struct iowait_since {
	__u64 since_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct iowait_since);
} iowaits SEC(".maps");

/* Kernels without task storage (before 5.11): the same keyed by tid. An entry
 * lives from an io_schedule() switch-out to its wakeup (a task always wakes
 * before it exits). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* empty, so free, where task storage exists */
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct iowait_since);
} iowaits_by_tid SEC(".maps");

/* blk_status_t -> -errno, as blk_status_to_errno() does */
static __always_inline int status_to_errno(__u8 st)
{
	switch (st) {
	case 0: return 0;
	case 1: return -95;  /* NOTSUPP: EOPNOTSUPP */
	case 2: return -110; /* TIMEOUT: ETIMEDOUT */
	case 3: return -28;  /* NOSPC: ENOSPC */
	case 4: return -67;  /* TRANSPORT: ENOLINK */
	case 5: return -121; /* TARGET: EREMOTEIO */
	case 6: return -52;  /* RESV_CONFLICT: EBADE */
	case 7: return -61;  /* MEDIUM: ENODATA */
	case 8: return -84;  /* PROTECTION: EILSEQ */
	case 9: return -12;  /* RESOURCE: ENOMEM */
	case 12: return -11; /* AGAIN: EAGAIN */
	case 13: return -16; /* DEV_RESOURCE: EBUSY */
	case 16: return -19; /* OFFLINE: ENODEV */
	default: return -5;  /* IOERR and anything newer: EIO */
	}
}

/* Before 5.11 request.part is a struct hd_struct (its dev_t in __dev), and
 * before 5.15 the disk is request.rq_disk rather than request_queue.disk. */
struct hd_struct___pre511 {
	struct device __dev;
} __attribute__((preserve_access_index));

struct request___pre515 {
	struct hd_struct___pre511 *part;
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline __u32 rq_dev(struct request *rq)
{
	struct request___pre515 *old = (struct request___pre515 *)rq;
	__u32 dev;
	if (bpf_core_type_exists(struct hd_struct___pre511))
		dev = BPF_CORE_READ(old, part, __dev.devt);
	else
		dev = BPF_CORE_READ(rq, part, bd_dev);
	if (!dev) {
		struct gendisk *d;
		if (bpf_core_field_exists(struct request_queue, disk))
			d = BPF_CORE_READ(rq, q, disk);
		else
			d = BPF_CORE_READ(old, rq_disk);
		dev = (BPF_CORE_READ(d, major) << 20) | BPF_CORE_READ(d, first_minor);
	}
	return dev;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(on_rq_issue, struct request *rq)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct issue_info info = {};
	info.ts_ns = bpf_ktime_get_boot_ns();
	info.pid = id >> 32;
	info.tid = (__u32)id;
	info.kthread = (current_ident(&info.start_ns, info.comm, sizeof(info.comm)) & PF_KTHREAD) ? 1 : 0;
	info.cgroup_id = bpf_get_current_cgroup_id();
	__u64 key = (__u64)rq;
	bpf_map_update_elem(&inflight, &key, &info, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(on_rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq;
	__u64 now = bpf_ktime_get_boot_ns();
	struct issue_info *info = bpf_map_lookup_elem(&inflight, &key);
	int err = status_to_errno(error);
	__u32 op = BPF_CORE_READ(rq, cmd_flags);
	__u16 flags = 0;
	if ((op & REQ_OP_MASK) == REQ_OP_WRITE)
		flags |= XCTL_IO_F_WRITE;
	if ((op & REQ_OP_MASK) == REQ_OP_FLUSH)
		flags |= XCTL_IO_F_FLUSH;
	if (op & REQ_SYNC)
		flags |= XCTL_IO_F_SYNC;

	__u32 zero = 0;
	struct rq_done *c = bpf_map_lookup_elem(&completing, &zero);
	if (c) {
		c->ts_ns = now;
		c->dev = rq_dev(rq);
		c->bytes = nr_bytes;
		c->sector = BPF_CORE_READ(rq, __sector);
		c->error = err;
		c->flags = flags;
		c->device_ns = info ? now - info->ts_ns : 0;
		c->issuer_pid = (info && !info->kthread) ? info->pid : 0;
	}
	if (!info && !err)
		return 0; /* issued before we attached */
	__u64 lat = info ? now - info->ts_ns : 0;
	if (err || lat >= cfg.io_min_latency_ns) {
		struct xctl_record *r = reserve_record(XCTL_KIND_BLOCK_IO);
		if (r) {
			if (info) {
				r->h.pid = info->pid;
				r->h.tid = info->tid;
				r->h.start_ns = info->start_ns;
				r->h.cgroup_id = info->cgroup_id;
				__builtin_memcpy(r->h.comm, info->comm, sizeof(r->h.comm));
				if (info->kthread)
					r->h.flags |= XCTL_F_KTHREAD;
			} else {
				r->h.pid = r->h.tid = 0;
				r->h.start_ns = r->h.cgroup_id = 0;
				__builtin_memset(r->h.comm, 0, sizeof(r->h.comm));
				r->h.flags |= XCTL_F_NO_OWNER;
			}
			r->io.dev = rq_dev(rq);
			r->io.bytes = nr_bytes;
			r->io.sector = BPF_CORE_READ(rq, __sector);
			r->io.latency_ns = lat;
			r->io.device_ns = lat;
			r->io.error = err;
			r->io.flags = flags;
			r->io._pad = 0;
			__builtin_memset(r->io._rsvd, 0, sizeof(r->io._rsvd));
			submit_record(r);
		}
	}
	if (info)
		bpf_map_delete_elem(&inflight, &key);
	return 0;
}

/* The two programs below run only when the sched family is off: with it on,
 * sched.bpf.c's on_switch/on_waking do the same (one program per hook), and
 * the loader does not load these. */
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch_io, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (!BPF_CORE_READ_BITFIELD(prev, in_iowait))
		return 0;
	if (HAVE_TASK_STORAGE) {
		struct iowait_since *w = bpf_task_storage_get(&iowaits, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (w)
			w->since_ns = bpf_ktime_get_boot_ns();
	} else {
		__u32 tid = prev->pid;
		struct iowait_since w = { .since_ns = bpf_ktime_get_boot_ns() };
		bpf_map_update_elem(&iowaits_by_tid, &tid, &w, BPF_ANY);
	}
	return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(on_waking_io, struct task_struct *p)
{
	__u64 since;
	if (HAVE_TASK_STORAGE) {
		struct iowait_since *w = bpf_task_storage_get(&iowaits, p, 0, 0);
		if (!w || !w->since_ns)
			return 0;
		since = w->since_ns;
		w->since_ns = 0;
	} else {
		__u32 tid = p->pid;
		struct iowait_since *w = bpf_map_lookup_elem(&iowaits_by_tid, &tid);
		if (!w)
			return 0;
		since = w->since_ns;
		bpf_map_delete_elem(&iowaits_by_tid, &tid);
	}
	io_waiter_woken(p, since, bpf_ktime_get_boot_ns());
	return 0;
}
