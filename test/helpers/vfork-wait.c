/* vfork-wait <seconds>: the parent vfork()s a child that sleeps before
 * _exit(); until then the parent waits for the child to release its memory in
 * an uninterruptible (but killable) sleep: /proc state 'D', on demand and
 * without any device. Prints "parent <pid>" first. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	double secs = argc > 1 ? atof(argv[1]) : 2;
	struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
	printf("parent %d\n", (int)getpid());
	fflush(stdout);
	pid_t child = vfork();
	if (child < 0) { perror("vfork"); return 1; }
	if (child == 0) {
		nanosleep(&ts, NULL); /* a raw syscall: allowed enough in a vfork child */
		_exit(0);
	}
	return 0;
}
