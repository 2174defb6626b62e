/* memhog <MiB>: allocate and touch memory 1 MiB at a time, printing progress,
 * then exit 0. In a small memory cgroup it gets OOM-killed part way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
	long target = argc > 1 ? atol(argv[1]) : 64;
	for (long i = 1; i <= target; i++) {
		char *p = malloc(1 << 20);
		if (!p) { printf("malloc failed at %ld MiB\n", i); return 1; }
		memset(p, (int)i, 1 << 20); /* touch every page so it is really charged */
		printf("allocated %ld MiB\n", i);
		fflush(stdout);
	}
	printf("done %ld MiB\n", target);
	return 0;
}
