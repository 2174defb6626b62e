/* pipe-pair <seconds> [interval_ms]: child writes a line into a pipe every
 * interval_ms (default 100); parent blocks in read() on it. Prints
 * "reader <pid> writer <pid>" first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	double secs = argc > 1 ? atof(argv[1]) : 2;
	long ms = argc > 2 ? atol(argv[2]) : 100;
	if (ms < 1) ms = 1;
	int fds[2];
	if (pipe(fds) != 0) { perror("pipe"); return 1; }
	fflush(stdout);
	pid_t writer = fork();
	if (writer < 0) { perror("fork"); return 1; }
	if (writer == 0) {
		close(fds[0]);
		struct timespec tick = { ms / 1000, ms % 1000 * 1000 * 1000 };
		for (long n = 0; n < (long)(secs * 1000 / ms); n++) {
			char line[64];
			int len = snprintf(line, sizeof line, "tick %ld\n", n);
			if (write(fds[1], line, (size_t)len) < 0) _exit(1);
			nanosleep(&tick, NULL);
		}
		_exit(0);
	}
	close(fds[1]);
	printf("reader %d writer %d\n", (int)getpid(), (int)writer);
	fflush(stdout);
	char buf[256];
	long lines = 0;
	ssize_t r;
	while ((r = read(fds[0], buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < r; i++) lines += buf[i] == '\n';
	int status = 0;
	waitpid(writer, &status, 0);
	printf("read %ld lines\n", lines);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
