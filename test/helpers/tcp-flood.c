/* tcp-flood <addr> <port>: connect and write(2) 64 KiB chunks with blocking writes until killed:
 * once the peer stops reading, it sleeps in write() on a full send buffer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
	if (argc < 3) { fprintf(stderr, "usage: tcp-flood <addr> <port>\n"); return 2; }
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
	if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
	printf("connected\n");
	fflush(stdout);
	static char buf[65536];
	memset(buf, 'x', sizeof buf);
	for (;;)
		if (write(s, buf, sizeof buf) < 0) { perror("write"); return 1; }
}
