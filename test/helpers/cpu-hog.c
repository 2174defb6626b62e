/* cpu-hog <seconds>: spin on the CPU (no syscalls besides the clock). */
#include <stdlib.h>
#include <time.h>
static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
int main(int argc, char **argv) {
	double end = now() + (argc > 1 ? atof(argv[1]) : 1);
	volatile unsigned long spins = 0;
	while (now() < end)
		for (int i = 0; i < 100000; i++) spins++;
	return 0;
}
