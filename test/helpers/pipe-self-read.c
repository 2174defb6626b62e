/* pipe-self-read: makes a pipe and blocks reading it while still holding the
 * write end itself, so EOF can never come (the classic self-deadlock).
 * Prints "reader <pid>" first. */
#include <stdio.h>
#include <unistd.h>
int main(void) {
	int fds[2];
	if (pipe(fds) != 0) { perror("pipe"); return 1; }
	printf("reader %d\n", (int)getpid());
	fflush(stdout);
	char c;
	return read(fds[0], &c, 1) < 0;
}
