/* producer <calls> <batch> [wait [interval_us]] | producer 0 <batch> cycles: the trigger
 * for the bench BPF program. Each call is a raw getpgid(XCTL_BENCH_TRIGGER(batch)),
 * which asks the loaded bench family for <batch> records (bench/bench_record.h).
 * With interval_us, sleeps that long between calls (a paced load). With "wait",
 * prints "ready <pid>" and blocks until a line arrives on stdin, so the
 * consumer can load the probe first. Then makes <calls> calls as fast as it
 * can and prints "calls <n> elapsed_ns <ns>". */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench_record.h"

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	long batch = argc > 2 ? atol(argv[2]) : 1;
	if (batch < 0 || batch > XCTL_BENCH_BATCH_MAX) {
		fprintf(stderr, "producer: batch must be 0..%u\n", XCTL_BENCH_BATCH_MAX);
		return 2;
	}
	long trigger = XCTL_BENCH_TRIGGER(batch);
	if (argc > 3 && !strcmp(argv[3], "cycles")) {
		/* repeated fills for drain benchmarks: each stdin line "N" = N calls, then "done" */
		char line[32];
		printf("ready %d\n", getpid());
		fflush(stdout);
		while (fgets(line, sizeof(line), stdin)) {
			long k = atol(line);
			for (long i = 0; i < k; i++)
				syscall(SYS_getpgid, trigger);
			printf("done\n");
			fflush(stdout);
		}
		return 0;
	}
	if (argc > 3 && !strcmp(argv[3], "wait")) {
		char line[16];
		printf("ready %d\n", getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	long interval_us = argc > 4 ? atol(argv[4]) : 0;
	struct timespec next = a;
	for (long i = 0; i < n; i++) {
		syscall(SYS_getpgid, trigger);
		if (interval_us > 0) {
			/* absolute deadlines: the rate does not drift with call cost */
			next.tv_nsec += interval_us * 1000;
			while (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("calls %ld elapsed_ns %lld\n", n, (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return 0;
}
