/* A "training process" linked against libcudart.so.12 and libnccl.so.2 like a
 * real application (the test doubles in build/test-gpu, found via rpath).
 * Prints "ready <pid>", waits for a line on stdin (so the agent can attach its
 * uprobes first), then:
 *   gpu-app alloc N BYTES      cudaMalloc N times, print each result, then sleep
 *   gpu-app allreduce N        N x ncclAllReduce (count 1M floats), then sleep
 *   gpu-app allreduce-net N ADDR PORT   as allreduce, while a thread streams TCP to
 *                              ADDR:PORT (the rank's traffic to its peer)
 *   gpu-app job N              a rank of a job: ncclCommInitRank(WORLD_SIZE, RANK from the
 *                              environment), then N x (20 ms of "compute", ncclAllReduce);
 *                              N = 0: forever; prints "step I" every 50 steps
 *   gpu-app bench N            N x cudaMalloc(256 B) in a tight loop; prints ns/call */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int cudaError_t;
typedef int ncclResult_t;
typedef struct ncclComm *ncclComm_t;
typedef struct { char internal[128]; } ncclUniqueId;
cudaError_t cudaMalloc(void **devPtr, size_t size);
ncclResult_t ncclGetUniqueId(ncclUniqueId *id);
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, int datatype, int op, ncclComm_t comm, void *stream);

static int peer_fd = -1;
static void *stream_to_peer(void *arg) {
  (void)arg;
  static char buf[65536];
  for (;;)
    if (write(peer_fd, buf, sizeof(buf)) < 0) usleep(10000);
  return NULL;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("ready %d\n", getpid());
  char line[64];
  if (!fgets(line, sizeof(line), stdin)) return 3;
  long n = atol(argv[2]);
  if (!strcmp(argv[1], "alloc")) {
    unsigned long long bytes = strtoull(argv[3], NULL, 0);
    for (long i = 0; i < n; i++) {
      void *p = NULL;
      int r = cudaMalloc(&p, bytes);
      printf("cudaMalloc %llu = %d %p\n", bytes, r, p);
    }
  } else if (!strcmp(argv[1], "allreduce") || !strcmp(argv[1], "allreduce-net")) {
    if (!strcmp(argv[1], "allreduce-net") && argc >= 5) {
      struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[4]))};
      inet_pton(AF_INET, argv[3], &sa.sin_addr);
      peer_fd = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(peer_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("connect");
        return 4;
      }
      pthread_t th;
      pthread_create(&th, NULL, stream_to_peer, NULL);
    }
    ncclUniqueId id;
    ncclComm_t comm;
    ncclGetUniqueId(&id);
    ncclCommInitRank(&comm, 2, id, 0);
    for (long i = 0; i < n; i++) {
      printf("allreduce %ld enter\n", i);
      ncclAllReduce((void *)0x1000, (void *)0x2000, 1 << 20, 7, 0, comm, NULL);
      printf("allreduce %ld done\n", i);
    }
  } else if (!strcmp(argv[1], "job")) {
    const char *r = getenv("RANK"), *ws = getenv("WORLD_SIZE");
    ncclUniqueId id;
    ncclComm_t comm;
    ncclGetUniqueId(&id);
    ncclCommInitRank(&comm, ws ? atoi(ws) : 1, id, r ? atoi(r) : 0);
    for (long i = 0; n == 0 || i < n; i++) {
      usleep(20000);
      ncclAllReduce((void *)0x1000, (void *)0x2000, 1 << 20, 7, 0, comm, NULL);
      if (i % 50 == 0) printf("step %ld\n", i);
    }
  } else if (!strcmp(argv[1], "bench")) {
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
      void *p;
      cudaMalloc(&p, 256);
    }
    printf("ns_per_call %.1f\n", (now_ns() - t0) / n);
    return 0;
  }
  printf("done\n");
  sleep(300);
  return 0;
}
