/* getpgid-loop <n>: n raw getpgid(0) syscalls as fast as possible (a cheap,
 * easily filtered syscall for ring-buffer floods and overhead benchmarks).
 * Prints "calls <n> elapsed_ns <ns>". */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) syscall(SYS_getpgid, 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("calls %ld elapsed_ns %lld\n", n, (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return 0;
}
