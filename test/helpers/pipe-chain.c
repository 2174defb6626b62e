/* pipe-chain <device> <iterations> <bytes>: A -> B -> device.
 * The child (B) does an O_DIRECT write of <bytes> to <device>, then writes a
 * line into a pipe, <iterations> times; the parent (A) blocks reading the pipe.
 * Prints "reader <A> writer <B>". With the device throttled, A waits on B and
 * B waits on the device. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
	if (argc < 4) { fprintf(stderr, "usage: pipe-chain <device> <iterations> <bytes>\n"); return 2; }
	int fds[2];
	if (pipe(fds)) return 1;
	long iters = atol(argv[2]);
	size_t bytes = (size_t)atol(argv[3]);
	pid_t b = fork();
	if (b == 0) {
		close(fds[0]);
		int fd = open(argv[1], O_WRONLY | O_DIRECT);
		if (fd < 0) { perror("open"); return 1; }
		void *buf;
		if (posix_memalign(&buf, 4096, bytes)) return 1;
		memset(buf, 0x42, bytes);
		for (long i = 0; i < iters; i++) {
			if (pwrite(fd, buf, bytes, 0) < 0) { perror("pwrite"); return 1; }
			if (write(fds[1], "x\n", 2) != 2) return 1;
		}
		return 0;
	}
	close(fds[1]);
	printf("reader %d writer %d\n", getpid(), b);
	fflush(stdout);
	char c[64];
	while (read(fds[0], c, sizeof(c)) > 0) {}
	int st;
	waitpid(b, &st, 0);
	return 0;
}
