/* proc family: exec, fork (new processes), exit with code and signal, fatal
 * signals generated, OOM-kill victims. All stable tracepoints via tp_btf. */
#include "common.bpf.h"

#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGKILL 9
#define SIG_DFL 0

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct xctl_record *r = reserve_record(XCTL_KIND_EXEC);
	if (!r)
		return 0;
	fill_task(r, p);
	/* exec replaced comm already; group_leader is p itself after de_thread */
	r->exec.ppid = BPF_CORE_READ(p, real_parent, tgid);
	r->exec._pad = 0;
	bpf_probe_read_kernel_str(r->exec.filename, sizeof(r->exec.filename), BPF_CORE_READ(bprm, filename));
	submit_record(r);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	/* threads share the parent's tgid: only new processes are interesting */
	if (child->pid != child->tgid)
		return 0;
	struct xctl_record *r = reserve_record(XCTL_KIND_FORK);
	if (!r)
		return 0;
	fill_task(r, parent);
	r->fork.child_pid = child->tgid;
	r->fork._pad = 0;
	r->fork.child_start_ns = child->start_boottime;
	__builtin_memset(r->fork._rsvd, 0, sizeof(r->fork._rsvd));
	submit_record(r);
	return 0;
}

/* sched_process_exit fires per thread; the prototype gained group_dead in 6.16,
 * so read signal->live instead (decremented before the tracepoint) to stay
 * portable, and report once per process. task->exit_code carries the status
 * the tracepoint does not: (code << 8) | signal | 0x80 if core dumped. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (cfg.skip_kthreads && (p->flags & PF_KTHREAD))
		return 0;
	struct xctl_record *r = reserve_record(XCTL_KIND_EXIT);
	if (!r)
		return 0;
	fill_task(r, p);
	__u32 status = BPF_CORE_READ(p, exit_code);
	/* a group exit (exit_group or fatal signal) keeps the real status in signal->group_exit_code */
	__u32 group = BPF_CORE_READ(p, signal, group_exit_code);
	if (status == 0 && group != 0)
		status = group;
	r->exit.raw_status = status;
	r->exit.signal = status & 0x7f;
	r->exit.core_dumped = (status & 0x80) ? 1 : 0;
	r->exit.exit_code = r->exit.signal ? 0 : (status >> 8) & 0xff;
	r->exit.ppid = BPF_CORE_READ(p, real_parent, tgid);
	__builtin_memset(r->exit._pad, 0, sizeof(r->exit._pad));
	__u64 start = BPF_CORE_READ(p, group_leader, start_boottime);
	r->exit.runtime_ns = r->h.ts_ns > start ? r->h.ts_ns - start : 0;
	__builtin_memset(r->exit._rsvd, 0, sizeof(r->exit._rsvd));
	submit_record(r);
	return 0;
}

/* Signals whose default action terminates or stops the target, plus SIGCONT:
 * the ones that explain why a process died or stopped making progress. */
static __always_inline int interesting_signal(int sig)
{
	switch (sig) {
	case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8: case 9:
	case 11: case 13: case 14: case 15: case 24: case 25: case 31:
	case SIGCONT: case SIGSTOP: case SIGTSTP:
		return 1;
	}
	return 0;
}

SEC("tp_btf/signal_generate")
int BPF_PROG(on_signal, int sig, struct kernel_siginfo *info, struct task_struct *task, int group, int result)
{
	if (!interesting_signal(sig))
		return 0;
	if (cfg.skip_kthreads && (task->flags & PF_KTHREAD))
		return 0;
	struct xctl_record *r = reserve_record(XCTL_KIND_SIGNAL);
	if (!r)
		return 0;
	fill_current(r);
	r->sig.target_pid = task->tgid;
	r->sig.target_tid = task->pid;
	r->sig.sig = sig;
	r->sig.result = result;
	r->sig.code = info ? BPF_CORE_READ(info, si_code) : 0;
	void *handler = 0;
	if (sig >= 1 && sig <= 64)
		handler = BPF_CORE_READ(task, sighand, action[(sig - 1) & 63].sa.sa_handler);
	r->sig.handled = handler != (void *)SIG_DFL && sig != SIGKILL && sig != SIGSTOP;
	__builtin_memset(r->sig._pad, 0, sizeof(r->sig._pad));
	bpf_probe_read_kernel_str(r->sig.target_comm, sizeof(r->sig.target_comm), BPF_CORE_READ(task, group_leader, comm));
	r->sig.target_start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	__builtin_memset(r->sig._rsvd, 0, sizeof(r->sig._rsvd));
	submit_record(r);
	return 0;
}

/* mm counters are percpu_counters: .count is the folded value, accurate to the
 * per-CPU batch, which is fine for "how big was the victim". */
static __always_inline __u64 mm_pages(struct mm_struct *mm, int idx)
{
	s64 v = BPF_CORE_READ(mm, rss_stat[idx & 3].count);
	return v > 0 ? (__u64)v : 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(on_oom_victim, struct task_struct *victim, uid_t uid)
{
	struct xctl_record *r = reserve_record(XCTL_KIND_OOM_KILL);
	if (!r)
		return 0;
	fill_task(r, victim);
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task_btf();
	r->oom.trigger_pid = cur->tgid;
	r->oom.uid = uid;
	struct mm_struct *mm = BPF_CORE_READ(victim, mm);
	__u64 page_kb = 4; /* x86-64 / arm64 4K pages */
	r->oom.total_vm_kb = mm ? BPF_CORE_READ(mm, total_vm) * page_kb : 0;
	r->oom.file_rss_kb = mm ? mm_pages(mm, 0) * page_kb : 0;  /* MM_FILEPAGES */
	r->oom.anon_rss_kb = mm ? mm_pages(mm, 1) * page_kb : 0;  /* MM_ANONPAGES */
	r->oom.shmem_rss_kb = mm ? mm_pages(mm, 3) * page_kb : 0; /* MM_SHMEMPAGES */
	r->oom.oom_score_adj = BPF_CORE_READ(victim, signal, oom_score_adj);
	r->oom._pad = 0;
	bpf_probe_read_kernel_str(r->oom.trigger_comm, sizeof(r->oom.trigger_comm), cur->group_leader->comm);
	r->oom._rsvd = 0;
	submit_record(r);
	return 0;
}
