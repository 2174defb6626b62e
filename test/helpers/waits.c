// Waits in progress, for the why-waits test. Each mode prints the pids it
// made on one line, then blocks:
//   flock-hold FILE    take flock(LOCK_EX) on FILE and pause      -> "holder P"
//   flock-wait FILE    block in flock(LOCK_EX) on FILE             (exits 0 when it gets it)
//   posix-hold FILE    take fcntl(F_SETLK) write lock and pause   -> "holder P"
//   posix-wait FILE    block in fcntl(F_SETLKW) on FILE            (exits 0 when it gets it)
//   pipe-silent        a child holds the write end and never writes; we block reading -> "reader P writer C"
//   unix-silent        a child holds the peer of a Unix socketpair and never sends; we block in recv -> "reader P peer C"
//   child-wait         a child pauses; we block in waitpid for it  -> "parent P child C"
//   file-thrash FILE SECONDS  read FILE in random 16 KiB pieces for SECONDS (in a tight memory cgroup: reclaim) -> "thrasher P"
//   flock-hold-read FILE  take flock(LOCK_EX), then block reading a pipe whose writer child
//                      never writes (stop it to make a two-hop chain) -> "holder P writer C"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int open_file(const char *path) {
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) { perror("open"); exit(2); }
  return fd;
}

static void posix_lock(int fd, int cmd) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, cmd, &fl) < 0) { perror("fcntl"); exit(3); }
}

static pid_t silent_writer(int *rfd) {
  int p[2];
  if (pipe(p) < 0) { perror("pipe"); exit(2); }
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    for (;;) pause();
  }
  close(p[1]);
  *rfd = p[0];
  return c;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: waits MODE [FILE]\n"); return 2; }
  setvbuf(stdout, NULL, _IONBF, 0);
  const char *m = argv[1];
  char buf[1];
  if (!strcmp(m, "flock-hold") || !strcmp(m, "posix-hold")) {
    int fd = open_file(argv[2]);
    if (m[0] == 'f') { if (flock(fd, LOCK_EX) < 0) { perror("flock"); return 3; } }
    else posix_lock(fd, F_SETLK);
    printf("holder %d\n", getpid());
    for (;;) pause();
  }
  if (!strcmp(m, "flock-wait")) {
    int fd = open_file(argv[2]);
    return flock(fd, LOCK_EX) < 0 ? 3 : 0;
  }
  if (!strcmp(m, "posix-wait")) {
    int fd = open_file(argv[2]);
    posix_lock(fd, F_SETLKW);
    return 0;
  }
  if (!strcmp(m, "pipe-silent")) {
    int rfd;
    pid_t c = silent_writer(&rfd);
    printf("reader %d writer %d\n", getpid(), c);
    return read(rfd, buf, 1) < 0 ? 3 : 0;
  }
  if (!strcmp(m, "unix-silent")) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) { perror("socketpair"); return 2; }
    pid_t c = fork();
    if (c == 0) { close(sv[0]); for (;;) pause(); }
    close(sv[1]);
    printf("reader %d peer %d\n", getpid(), c);
    return recv(sv[0], buf, 1, 0) < 0 ? 3 : 0;
  }
  if (!strcmp(m, "child-wait")) {
    pid_t c = fork();
    if (c == 0) { for (;;) pause(); }
    printf("parent %d child %d\n", getpid(), c);
    int st;
    waitpid(c, &st, 0);
    return 0;
  }
  if (!strcmp(m, "flock-hold-read")) {
    int fd = open_file(argv[2]);
    if (flock(fd, LOCK_EX) < 0) { perror("flock"); return 3; }
    int rfd;
    pid_t c = silent_writer(&rfd);
    printf("holder %d writer %d\n", getpid(), c);
    return read(rfd, buf, 1) < 0 ? 3 : 0;
  }
  if (!strcmp(m, "file-thrash")) {
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) { perror("open"); return 2; }
    off_t size = lseek(fd, 0, SEEK_END);
    posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    static char piece[16384];
    printf("thrasher %d\n", getpid());
    time_t end = time(NULL) + atoi(argv[3]);
    unsigned long x = 88172645463325252UL;
    while (time(NULL) < end) {
      for (int i = 0; i < 256; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        off_t off = (off_t)(x % (unsigned long)(size / sizeof piece)) * (off_t)sizeof piece;
        if (pread(fd, piece, sizeof piece, off) < 0) { perror("pread"); return 3; }
      }
    }
    return 0;
  }
  fprintf(stderr, "waits: unknown mode %s\n", m);
  return 2;
}
