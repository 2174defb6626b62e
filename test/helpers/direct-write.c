/* direct-write <path> <count> <bytes>: O_DIRECT writes of an aligned buffer.
 * Prints "write <i> <ms> ms" per write and "total <ms> ms".
 * Exit 0 on success; on a failed write prints "error <errno>" and exits 1;
 * exit 2 if the device can't be opened ("open error <errno>"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static double now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
int main(int argc, char **argv) {
	if (argc < 4) { fprintf(stderr, "usage: direct-write <path> <count> <bytes>\n"); return 2; }
	long count = atol(argv[2]);
	size_t bytes = (size_t)atol(argv[3]);
	int fd = open(argv[1], O_WRONLY | O_DIRECT);
	if (fd < 0) { printf("open error %d\n", errno); fflush(stdout); return 2; }
	void *buf;
	if (posix_memalign(&buf, 4096, bytes) != 0) { printf("error %d\n", ENOMEM); return 1; }
	memset(buf, 0x5a, bytes);
	double start = now_ms();
	for (long i = 0; i < count; i++) {
		double t0 = now_ms();
		ssize_t w = write(fd, buf, bytes);
		int err = errno;
		printf("write %ld %.3f ms\n", i, now_ms() - t0);
		if (w < 0) { printf("error %d\n", err); fflush(stdout); return 1; }
		if ((size_t)w != bytes) printf("short %zd\n", w);
		fflush(stdout);
	}
	printf("total %.3f ms\n", now_ms() - start);
	close(fd);
	return 0;
}
