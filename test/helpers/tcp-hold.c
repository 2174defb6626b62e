/* tcp-hold <port> [addr]: listen on <addr>:<port> (default 127.0.0.1), accept one connection and never read from it.
 * Prints "accepted" once a peer is connected, then sleeps until killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
	if (argc < 2) { fprintf(stderr, "usage: tcp-hold <port> [addr]\n"); return 2; }
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc > 2 && inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1)) { perror("tcp-hold"); return 1; }
	printf("listening\n");
	fflush(stdout);
	int c = accept(l, 0, 0);
	if (c < 0) { perror("accept"); return 1; }
	printf("accepted\n");
	fflush(stdout);
	for (;;) pause();
}
