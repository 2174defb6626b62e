/* syscall-errors OPENS DIR WRITES FILE CONNECTS PORT CODE [STDIN_GO]
 * Forks a child that makes syscalls fail and counts its own failures: OPENS opens of
 * missing files under DIR (ENOENT), writes to FILE until WRITES of them failed with
 * ENOSPC (FILE on a small tmpfs), CONNECTS connects to 127.0.0.1:PORT (nothing
 * listens: ECONNREFUSED). The child prints what it observed and exits with CODE;
 * the parent exits with the child's status. Only the child fails syscalls (the
 * parent's startup may fail some of its own: the loader's searches), so the
 * kernel's counts for the child's pid must equal what it prints. With a fifth
 * argument (`hold`) the child waits for a line on stdin before it starts and
 * for another one (or EOF) before it exits: it stays alive after failing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: syscall-errors OPENS DIR WRITES FILE CONNECTS PORT CODE [go]\n");
    return 2;
  }
  int opens = atoi(argv[1]), writes = atoi(argv[3]), connects = atoi(argv[5]), port = atoi(argv[6]), code = atoi(argv[7]);
  pid_t c = fork();
  if (c < 0) return 2;
  if (c > 0) {
    int st = 0;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  char line[64];
  if (argc > 8) {
    dprintf(1, "ready %d\n", getpid());
    if (read(0, line, sizeof(line)) <= 0) _exit(2);
  }
  int enoent = 0, enospc = 0, refused = 0, fd = -1, other = 0;
  char path[4096];
  for (int i = 0; i < opens; i++) {
    snprintf(path, sizeof(path), "%s/missing-%d", argv[2], i);
    if (open(path, O_RDONLY) < 0) {
      if (errno == ENOENT) enoent++; else other++;
    }
  }
  if (writes > 0) {
    fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(3);
    static char buf[4096];
    memset(buf, 'x', sizeof(buf));
    for (int guard = 0; enospc < writes && guard < 1000000; guard++) {
      if (write(fd, buf, sizeof(buf)) < 0) {
        if (errno == ENOSPC) enospc++; else other++;
      }
    }
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  for (int i = 0; i < connects; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) { other++; continue; }
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
      if (errno == ECONNREFUSED) refused++; else other++;
    }
    close(s);
  }
  dprintf(1, "pid %d enoent %d enospc %d econnrefused %d fd %d other %d\n", getpid(), enoent, enospc, refused, fd, other);
  if (argc > 8) (void)!read(0, line, sizeof(line));
  _exit(code);
}
