/* on-cpu <cpu> <cmd> [args...]: exec cmd pinned to one CPU (taskset without util-linux). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
	if (argc < 3) { fprintf(stderr, "usage: on-cpu <cpu> <cmd> [args...]\n"); return 125; }
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(atoi(argv[1]), &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0) { perror("on-cpu: sched_setaffinity"); return 125; }
	execvp(argv[2], argv + 2);
	perror("on-cpu: execvp");
	return 127;
}
