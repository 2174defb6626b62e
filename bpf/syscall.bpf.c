/* syscall family: failed syscalls, counted in the kernel per process x syscall x errno.
 *
 * One program on the raw sys_exit tracepoint (tp_btf: the saved pt_regs and the
 * return value). It returns at once for a success (ret >= 0) and for any syscall
 * outside the watched list, so the cost on the hot path is one call and one
 * compare. Per-syscall tracepoints (syscalls:sys_exit_*) hang off the same
 * sys_exit hook inside the kernel, cost a perf trace record per hit, carry no
 * arguments at exit (the path or address would need the matching sys_enter
 * program too, doubling the cost) and need a program per syscall.
 *
 * Errors of one process are kept in one map value (8 slots of syscall x errno):
 * the first error of a slot is sent at once (with a sample: the path, the fd's
 * file, the peer address), later ones are summed and sent by a per-process
 * bpf_timer every cfg.syscall_flush_ns, and what is left when the process exits
 * is sent from sched_process_exit. A record's `count` is the errors since the
 * previous record of its key: summed over the records it is exact. A ninth key,
 * or a process when the table is full, is sent one record per error: nothing is
 * dropped.
 *
 * Kernels without bpf_timer (5.15) or atomic compare-and-swap (5.12) load
 * `on_sys_exit__fallback`: the pending counts go out with the next error of the
 * process once the interval has passed, and at its exit (exact at exit; a process
 * that stops failing but lives on keeps its last interval in the kernel until then). */
#include "common.bpf.h"

#define CLOCK_MONOTONIC 1
#define SC_SLOTS 8
#define MAX_ERRNO 4095

struct sc_slot {
	__u32 key;          /* sc << 16 | errno; 0 = free */
	__u32 total;        /* errors so far (atomic add) */
	__u32 flushed;      /* total at the previous record */
	__s32 fd;
	__u64 first_ts;
	__u64 last_ts;
	__u8 sample_kind;
	__u8 sample_flags;
	__u8 _pad[6];
	__u8 sample[36];
	__u8 _pad2[4];
};

struct sc_proc {
	struct bpf_timer flush;
	__u64 start_ns;
	__u64 cgroup_id;
	__u64 last_flush;
	__u32 tid;
	__u32 armed;
	char comm[XCTL_COMM_LEN];
	struct sc_slot slots[SC_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tgid */
	__type(value, struct sc_proc);
} sc_procs SEC(".maps");

/* a map value is too big for the BPF stack: the zero value to insert comes from
 * here, and emit_single() uses it as scratch (zeroed again after). Plain bytes:
 * a per-CPU map may not hold a struct bpf_timer. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[sizeof(struct sc_proc)]);
} sc_zero SEC(".maps");

/* arch syscall number -> XCTL_SC_* (0: not watched) */
static __always_inline __u16 watched(long nr)
{
#if defined(__TARGET_ARCH_x86)
	switch (nr) {
	case 2: return XCTL_SC_OPEN;
	case 257: return XCTL_SC_OPENAT;
	case 1: return XCTL_SC_WRITE;
	case 18: return XCTL_SC_PWRITE64;
	case 74: return XCTL_SC_FSYNC;
	case 75: return XCTL_SC_FDATASYNC;
	case 42: return XCTL_SC_CONNECT;
	case 43: return XCTL_SC_ACCEPT;
	case 288: return XCTL_SC_ACCEPT4;
	case 9: return XCTL_SC_MMAP;
	case 56: return XCTL_SC_CLONE;
	case 435: return XCTL_SC_CLONE3;
	}
#elif defined(__TARGET_ARCH_arm64)
	switch (nr) {
	case 56: return XCTL_SC_OPENAT;
	case 64: return XCTL_SC_WRITE;
	case 68: return XCTL_SC_PWRITE64;
	case 82: return XCTL_SC_FSYNC;
	case 83: return XCTL_SC_FDATASYNC;
	case 203: return XCTL_SC_CONNECT;
	case 202: return XCTL_SC_ACCEPT;
	case 242: return XCTL_SC_ACCEPT4;
	case 222: return XCTL_SC_MMAP;
	case 220: return XCTL_SC_CLONE;
	case 435: return XCTL_SC_CLONE3;
	}
#endif
	return 0;
}

#if defined(__TARGET_ARCH_x86)
#define SC_NR(regs) ((regs)->orig_ax)
#define SC_ARG1(regs) ((regs)->di)
#define SC_ARG2(regs) ((regs)->si)
#elif defined(__TARGET_ARCH_arm64)
#define SC_NR(regs) ((regs)->syscallno)
#define SC_ARG1(regs) ((regs)->orig_x0)
#define SC_ARG2(regs) ((regs)->regs[1])
#endif

/* The sample of a key's first error: cheap reads of what the call named. */
static __always_inline void take_sample(struct sc_slot *s, struct pt_regs *regs, __u16 sc)
{
	s->fd = -1;
	s->sample_kind = XCTL_SCS_NONE;
	s->sample_flags = 0;
	if (sc == XCTL_SC_OPEN || sc == XCTL_SC_OPENAT) {
		const char *path = (const char *)(sc == XCTL_SC_OPEN ? SC_ARG1(regs) : SC_ARG2(regs));
		if (bpf_probe_read_user_str(s->sample, sizeof(s->sample), path) > 0)
			s->sample_kind = XCTL_SCS_PATH;
	} else if (sc == XCTL_SC_WRITE || sc == XCTL_SC_PWRITE64 || sc == XCTL_SC_FSYNC || sc == XCTL_SC_FDATASYNC) {
		int fd = (int)SC_ARG1(regs);
		s->fd = fd;
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
		if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
			return;
		struct file **fds = BPF_CORE_READ(fdt, fd);
		struct file *f = 0;
		bpf_probe_read_kernel(&f, sizeof(f), &fds[fd & 0xffffff]);
		if (!f)
			return;
		struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
		struct super_block *sb = BPF_CORE_READ(d, d_sb);
		__u32 dev = BPF_CORE_READ(sb, s_dev);
		__u32 magic = (__u32)BPF_CORE_READ(sb, s_magic);
		__builtin_memcpy(s->sample, &dev, 4);
		__builtin_memcpy(s->sample + 4, &magic, 4);
		bpf_probe_read_kernel_str(s->sample + 8, 28, BPF_CORE_READ(d, d_name.name));
		if (BPF_CORE_READ(d, d_parent) == BPF_CORE_READ(f, f_path.mnt, mnt_root))
			s->sample_flags = XCTL_SCS_F_AT_ROOT;
		s->sample_kind = XCTL_SCS_FILE;
	} else if (sc == XCTL_SC_CONNECT) {
		s->fd = (int)SC_ARG1(regs);
		/* sockaddr_in: family, port (network order), addr; sockaddr_in6: family, port, flowinfo, addr */
		__u8 sa[24] = {};
		if (bpf_probe_read_user(sa, sizeof(sa), (void *)SC_ARG2(regs)) && bpf_probe_read_user(sa, 8, (void *)SC_ARG2(regs)))
			return;
		__u16 family = sa[0] | (sa[1] << 8);
		__u16 port = (sa[2] << 8) | sa[3];
		__builtin_memcpy(s->sample, &family, 2);
		__builtin_memcpy(s->sample + 2, &port, 2);
		if (family == 10)
			__builtin_memcpy(s->sample + 4, sa + 8, 16);
		else
			__builtin_memcpy(s->sample + 4, sa + 4, 4);
		s->sample_kind = XCTL_SCS_ADDR;
	}
}

static __always_inline void emit(struct sc_proc *p, __u32 tgid, struct sc_slot *s, __u32 count, __u32 total, __u8 reason)
{
	struct xctl_record *r = reserve_record(XCTL_KIND_SYSCALL_ERROR);
	if (!r)
		return;
	r->h.pid = tgid;
	r->h.tid = p->tid;
	r->h.start_ns = p->start_ns;
	r->h.cgroup_id = p->cgroup_id;
	__builtin_memcpy(r->h.comm, p->comm, sizeof(r->h.comm));
	r->sce.sc = s->key >> 16;
	r->sce.err = s->key & 0xffff;
	r->sce.count = count;
	r->sce.first_ts_ns = s->first_ts;
	r->sce.last_ts_ns = s->last_ts;
	r->sce.fd = s->fd;
	r->sce.total = total;
	r->sce.reason = reason;
	r->sce.sample_kind = s->sample_kind;
	r->sce.sample_flags = s->sample_flags;
	r->sce._pad = 0;
	__builtin_memcpy(r->sce.sample, s->sample, sizeof(r->sce.sample));
	submit_record(r);
}

/* Send every slot's errors since its previous record. One flusher at a time per
 * process (the timer, the next error in the fallback, or the exit), so reading
 * `total` and moving `flushed` up to it loses and repeats nothing. */
static __always_inline void flush_proc(struct sc_proc *p, __u32 tgid, __u8 reason)
{
	for (int i = 0; i < SC_SLOTS; i++) {
		struct sc_slot *s = &p->slots[i];
		if (!s->key)
			continue;
		__u32 total = *(volatile __u32 *)&s->total;
		if (total == s->flushed)
			continue;
		emit(p, tgid, s, total - s->flushed, total, reason);
		s->flushed = total;
	}
	p->last_flush = bpf_ktime_get_boot_ns();
}

static int flush_cb(void *map, __u32 *key, struct sc_proc *p)
{
	p->armed = 0;
	flush_proc(p, *key, XCTL_SCR_INTERVAL);
	return 0;
}

/* One record for one error, unaggregated (no process slot, or all 8 taken). */
static __always_inline void emit_single(__u32 tgid, __u16 sc, __u16 err, struct pt_regs *regs, __u64 now)
{
	__u32 zero = 0;
	struct sc_proc *p = (struct sc_proc *)bpf_map_lookup_elem(&sc_zero, &zero);
	if (!p)
		return;
	p->tid = (__u32)bpf_get_current_pid_tgid();
	p->cgroup_id = bpf_get_current_cgroup_id();
	current_ident(&p->start_ns, p->comm, sizeof(p->comm));
	struct sc_slot *s = &p->slots[0];
	s->key = (__u32)sc << 16 | err;
	s->first_ts = now;
	s->last_ts = now;
	take_sample(s, regs, sc);
	emit(p, tgid, s, 1, 1, XCTL_SCR_UNAGGREGATED);
	__builtin_memset(p, 0, sizeof(*p)); /* it is the zero value for inserts */
}

static __always_inline int handle(struct pt_regs *regs, long ret, bool timer)
{
	if (ret >= 0 || ret < -MAX_ERRNO)
		return 0;
	__u16 sc = watched(SC_NR(regs));
	if (!sc)
		return 0;
	__u16 err = (__u16)-ret;
	__u32 key = (sc << 16) | err;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_boot_ns();
	struct sc_proc *p = bpf_map_lookup_elem(&sc_procs, &tgid);
	if (!p) {
		__u32 zero = 0;
		void *z = bpf_map_lookup_elem(&sc_zero, &zero);
		if (!z)
			return 0;
		bpf_map_update_elem(&sc_procs, &tgid, z, BPF_NOEXIST);
		p = bpf_map_lookup_elem(&sc_procs, &tgid);
		if (!p) {
			emit_single(tgid, sc, err, regs, now);
			return 0;
		}
		if (!p->start_ns) {
			p->tid = (__u32)bpf_get_current_pid_tgid();
			p->cgroup_id = bpf_get_current_cgroup_id();
			current_ident(&p->start_ns, p->comm, sizeof(p->comm));
			p->last_flush = now;
		}
	}
	for (int i = 0; i < SC_SLOTS; i++) {
		struct sc_slot *s = &p->slots[i];
		if (s->key == key) {
			__sync_fetch_and_add(&s->total, 1);
			s->last_ts = now;
			if (timer) {
				if (!p->armed) {
					p->armed = 1;
					bpf_timer_init(&p->flush, &sc_procs, CLOCK_MONOTONIC); /* -EBUSY once done: fine */
					bpf_timer_set_callback(&p->flush, flush_cb);
					bpf_timer_start(&p->flush, cfg.syscall_flush_ns, 0);
				}
			} else if (now - p->last_flush >= cfg.syscall_flush_ns) {
				flush_proc(p, tgid, XCTL_SCR_INTERVAL);
			}
			return 0;
		}
		if (s->key)
			continue;
		/* a free slot: claim it (two threads may race for it) */
		if (timer) {
			if (__sync_val_compare_and_swap(&s->key, 0, key) != 0) {
				if (s->key != key)
					continue;
				__sync_fetch_and_add(&s->total, 1);
				s->last_ts = now;
				return 0;
			}
		} else {
			s->key = key;
		}
		s->first_ts = now;
		s->last_ts = now;
		take_sample(s, regs, sc);
		s->flushed = 1;
		__sync_fetch_and_add(&s->total, 1);
		emit(p, tgid, s, 1, 1, XCTL_SCR_FIRST);
		return 0;
	}
	emit_single(tgid, sc, err, regs, now); /* more than SC_SLOTS keys in this process */
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	return handle(regs, ret, true);
}

/* Before 5.15 (bpf_timer) or 5.12 (compare-and-swap): flushed by the next error after the interval, and at exit. */
SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit__fallback, struct pt_regs *regs, long ret)
{
	return handle(regs, ret, false);
}

/* The last thread of a process: what it has not sent yet goes out now. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_proc_exit, struct task_struct *t)
{
	if (BPF_CORE_READ(t, signal, live.counter) != 0)
		return 0;
	__u32 tgid = t->tgid;
	struct sc_proc *p = bpf_map_lookup_elem(&sc_procs, &tgid);
	if (!p)
		return 0;
	flush_proc(p, tgid, XCTL_SCR_EXIT);
	bpf_map_delete_elem(&sc_procs, &tgid); /* cancels the timer */
	return 0;
}
