/* epoll-idle: a TCP server on 127.0.0.1 (any port) that waits in epoll_wait()
 * for connections that never come. Prints "listening <port>" first. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16) || getsockname(s, (struct sockaddr *)&a, &len)) {
		perror("epoll-idle: socket");
		return 1;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = s };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev)) { perror("epoll-idle: epoll"); return 1; }
	printf("listening %d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		struct epoll_event got[8];
		int n = epoll_wait(ep, got, 8, -1);
		for (int i = 0; i < n; i++) {
			int c = accept(s, NULL, NULL);
			if (c >= 0) close(c);
		}
	}
}
