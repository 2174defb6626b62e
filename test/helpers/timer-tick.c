/* timer-tick <seconds> <period_ms> <work_us>: wakes every period_ms on an
 * absolute timer (clock_nanosleep) and spins work_us, then sleeps again. */
#include <stdlib.h>
#include <time.h>
static long long ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
int main(int argc, char **argv) {
	double secs = argc > 1 ? atof(argv[1]) : 10;
	long long period = (argc > 2 ? atol(argv[2]) : 10) * 1000000LL;
	long long work = (argc > 3 ? atol(argv[3]) : 200) * 1000LL;
	long long start = ns(), next = start;
	volatile unsigned long spins = 0;
	while (next - start < (long long)(secs * 1e9)) {
		long long until = ns() + work;
		while (ns() < until) spins++;
		next += period;
		struct timespec ts = { next / 1000000000LL, next % 1000000000LL };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	return 0;
}
