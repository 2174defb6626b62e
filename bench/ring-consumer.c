/* The ceiling: a bare C libbpf consumer of the same bench BPF program and the
 * same producer as the JS pipeline (bench/pipeline.ts runs both in one go).
 *
 *   ring-consumer <calls> <batch> <ring_bytes> <producer-path> [poll|spin]
 *
 * poll: ring_buffer__poll() (epoll, the usual way to use libbpf);
 * spin: ring_buffer__consume() in a busy loop: no wakeups at all, one CPU
 *       burnt;
 * drain: consume nothing while the producer runs (size the ring to hold it
 *       all), then time ring_buffer__consume() alone: the pure drain rate;
 * cycles: <calls> fill -> drain cycles of a ring that holds one fill, timing
 *       only the drains (the ring data is cache-warm, as in a live agent).
 *
 * Forks the producer (which waits), loads the probe, lets the producer go,
 * consumes with ring_buffer__poll() until the producer has exited and the ring
 * is empty. Prints one JSON line: delivered, drops, produced, elapsed_ns. */
#define _GNU_SOURCE
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_record.h"
#include "bench.skel.h"

#define TV_NS(tv) ((tv).tv_sec * 1000000000ULL + (tv).tv_usec * 1000ULL)

static unsigned long long delivered, seq_sum;
static unsigned long long first_ns, last_ns;

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t len)
{
	const struct xctl_bench_record *r = data;
	if (!first_ns)
		first_ns = now_ns();
	seq_sum += r->seq; /* touch the record like a decoder would */
	delivered++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: ring-consumer <calls> <batch> <ring_bytes> <producer>\n");
		return 2;
	}
	unsigned batch = atoi(argv[2]);
	unsigned ring_bytes = atoi(argv[3]);
	int spin = argc > 5 && !strcmp(argv[5], "spin");
	int drain_only = argc > 5 && !strcmp(argv[5], "drain");
	int cycles = argc > 5 && !strcmp(argv[5], "cycles");
	int to_child[2], from_child[2];
	if (pipe(to_child) || pipe(from_child))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		/* keep no copy of our own stdin's write end, or EOF never comes */
		close(to_child[0]);
		close(to_child[1]);
		close(from_child[0]);
		close(from_child[1]);
		if (cycles)
			execl(argv[4], argv[4], "0", argv[2], "cycles", (char *)NULL);
		else
			execl(argv[4], argv[4], argv[1], argv[2], "wait", (char *)NULL);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	char line[64] = {0};
	if (read(from_child[0], line, sizeof(line) - 1) <= 0 || strncmp(line, "ready", 5)) {
		fprintf(stderr, "producer did not start: %s\n", line);
		return 1;
	}

	struct xskel_bench *skel = xskel_bench__open();
	if (!skel)
		return 1;
	bpf_map__set_max_entries(skel->maps.events, ring_bytes);
	if (xskel_bench__load(skel) || xskel_bench__attach(skel)) {
		fprintf(stderr, "load/attach failed\n");
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
	if (!rb)
		return 1;
	struct rusage ru0;
	if (cycles) {
		/* fill so one fill fits the ring: ring_bytes / 136 bytes per record */
		long fill_calls = (long)(ring_bytes / (XCTL_RECORD_SIZE + 8)) / batch;
		long rounds = atol(argv[1]);
		unsigned long long drain_ns = 0, cpu_ns = 0;
		FILE *to = fdopen(to_child[1], "w"), *from = fdopen(from_child[0], "r");
		char buf[64];
		for (long r = 0; r < rounds; r++) {
			fprintf(to, "%ld\n", fill_calls);
			fflush(to);
			if (!fgets(buf, sizeof(buf), from))
				return 1;
			struct rusage a, b;
			getrusage(RUSAGE_SELF, &a);
			unsigned long long t0 = now_ns();
			while (ring_buffer__consume(rb) > 0)
				;
			drain_ns += now_ns() - t0;
			getrusage(RUSAGE_SELF, &b);
			cpu_ns += TV_NS(b.ru_utime) + TV_NS(b.ru_stime) - TV_NS(a.ru_utime) - TV_NS(a.ru_stime);
		}
		fclose(to);
		waitpid(pid, NULL, 0);
		unsigned long long drops = 0, produced = 0;
		int nc = libbpf_num_possible_cpus();
		unsigned long long pc[nc];
		unsigned z = 0;
		if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.drops), &z, pc))
			for (int i = 0; i < nc; i++)
				drops += pc[i];
		bpf_map_lookup_elem(bpf_map__fd(skel->maps.produced), &z, &produced);
		printf("{\"delivered\":%llu,\"drops\":%llu,\"produced\":%llu,\"elapsed_ns\":%llu,\"cpu_ns\":%llu,\"seq_sum\":%llu}\n",
		       delivered, drops, produced, drain_ns, cpu_ns, seq_sum);
		return 0;
	}
	getrusage(RUSAGE_SELF, &ru0); /* CPU of consuming only, not of loading BPF */
	unsigned long long start = now_ns();
	if (write(to_child[1], "go\n", 3) != 3)
		return 1;
	int status, done = 0;
	unsigned long iter = 0;
	if (drain_only) {
		waitpid(pid, &status, 0);
		getrusage(RUSAGE_SELF, &ru0);
		start = now_ns();
		done = 1;
	}
	while (!done) {
		if (spin)
			ring_buffer__consume(rb);
		else
			ring_buffer__poll(rb, 10);
		if (!spin || (++iter & 1023) == 0)
			done = waitpid(pid, &status, WNOHANG) == pid;
	}
	while (ring_buffer__consume(rb) > 0)
		;
	last_ns = now_ns();
	unsigned long long drops = 0, produced = 0;
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long per_cpu[ncpu];
	unsigned zero = 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.drops), &zero, per_cpu))
		for (int i = 0; i < ncpu; i++)
			drops += per_cpu[i];
	bpf_map_lookup_elem(bpf_map__fd(skel->maps.produced), &zero, &produced);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	unsigned long long cpu_ns = TV_NS(ru.ru_utime) + TV_NS(ru.ru_stime) - TV_NS(ru0.ru_utime) - TV_NS(ru0.ru_stime);
	printf("{\"delivered\":%llu,\"drops\":%llu,\"produced\":%llu,\"elapsed_ns\":%llu,\"first_to_last_ns\":%llu,\"seq_sum\":%llu,\"cpu_ns\":%llu}\n",
	       delivered, drops, produced, last_ns - start, last_ns - first_ns, seq_sum, cpu_ns);
	ring_buffer__free(rb);
	xskel_bench__destroy(skel);
	return 0;
}
