/* waiter: a scripted waiter whose waits the kernel also counts, for the wait totals test.
 *   waiter runq <seconds>    run 2 ms of CPU, sleep 1 ms, for <seconds>; prints
 *                            "run_delay <ns>": the growth of its own /proc/self/schedstat
 *                            run_delay from its first to its last instruction of interest
 *   waiter sleep <n> <ms>    n sleeps of <ms>; prints "slept <ns>": wall-clock time inside them
 * No other waits: it starts working at once and exits after printing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long ns_of(clockid_t c) {
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long run_delay(void) {
	FILE *f = fopen("/proc/self/schedstat", "r");
	long long run = 0, delay = 0;
	if (!f || fscanf(f, "%lld %lld", &run, &delay) != 2) { perror("schedstat"); exit(2); }
	fclose(f);
	return delay;
}

int main(int argc, char **argv) {
	if (argc < 3) { fprintf(stderr, "usage: waiter runq <seconds> | waiter sleep <n> <ms>\n"); return 2; }
	if (!strcmp(argv[1], "runq")) {
		long long d0 = run_delay();
		long long end = ns_of(CLOCK_MONOTONIC) + (long long)(atof(argv[2]) * 1e9);
		struct timespec ms = { 0, 1000000 };
		while (ns_of(CLOCK_MONOTONIC) < end) {
			long long until = ns_of(CLOCK_THREAD_CPUTIME_ID) + 2000000;
			while (ns_of(CLOCK_THREAD_CPUTIME_ID) < until) {}
			nanosleep(&ms, NULL);
		}
		printf("run_delay %lld\n", run_delay() - d0);
	} else {
		int n = atoi(argv[2]);
		long long each = atoll(argv[3]) * 1000000LL, slept = 0;
		struct timespec ts = { each / 1000000000LL, each % 1000000000LL };
		for (int i = 0; i < n; i++) {
			long long t0 = ns_of(CLOCK_MONOTONIC);
			nanosleep(&ts, NULL);
			slept += ns_of(CLOCK_MONOTONIC) - t0;
		}
		printf("slept %lld\n", slept);
	}
	fflush(stdout);
	return 0;
}
