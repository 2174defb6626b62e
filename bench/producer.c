/* producer <calls> [wait] [interval_us] | producer 0 cycles: the trigger for the bench BPF program.
 * With interval_us, sleeps that long between calls (a paced load). With "wait",
 * prints "ready <pid>" and blocks until a line arrives on stdin, so the
 * consumer can arm the probe for this pid first. Then makes <calls> raw
 * getpgid(0) syscalls as fast as it can and prints "calls <n> elapsed_ns <ns>". */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	if (argc > 2 && !strcmp(argv[2], "cycles")) {
		/* repeated fills for drain benchmarks: each stdin line "N" = N calls, then "done" */
		char line[32];
		printf("ready %d\n", getpid());
		fflush(stdout);
		while (fgets(line, sizeof(line), stdin)) {
			long k = atol(line);
			for (long i = 0; i < k; i++)
				syscall(SYS_getpgid, 0);
			printf("done\n");
			fflush(stdout);
		}
		return 0;
	}
	if (argc > 2 && !strcmp(argv[2], "wait")) {
		char line[16];
		printf("ready %d\n", getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	long interval_us = argc > 3 ? atol(argv[3]) : 0;
	struct timespec next = a;
	for (long i = 0; i < n; i++) {
		syscall(SYS_getpgid, 0);
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
