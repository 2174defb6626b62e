/* A test NCCL (libnccl.so.2): the real symbol names and ABI (ncclResult_t =
 * int, ncclComm_t = opaque pointer). Collectives return at once, except while
 * the file named by $FAKE_NCCL_HANG exists: then they block (a rank stuck in
 * a collective) until it is removed.
 *
 * With $FAKE_NCCL_BARRIER set to a file path, ncclAllReduce really rendezvous:
 * the ranks of a communicator (nranks from ncclCommInitRank) that name the
 * same file meet in a barrier on its shared mapping (a process-shared futex),
 * so while one rank is held back the others wait inside ncclAllReduce, as with
 * the real library. */
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int ncclResult_t;
typedef struct ncclComm *ncclComm_t;
typedef int ncclDataType_t;
typedef int ncclRedOp_t;
typedef struct { char internal[128]; } ncclUniqueId;

static struct ncclComm { int rank, nranks; } comms[64];
static int ncomms;

struct barrier { int count; int gen; };
static struct barrier *bar;

static struct barrier *barrier_map(void) {
  if (bar) return bar;
  const char *f = getenv("FAKE_NCCL_BARRIER");
  if (!f) return NULL;
  int fd = open(f, O_RDWR | O_CREAT, 0600);
  if (fd < 0 || ftruncate(fd, 4096) < 0) return NULL;
  void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  bar = m == MAP_FAILED ? NULL : (struct barrier *)m;
  return bar;
}

/* All nranks arrive, then all leave: the last one in resets the count and
 * advances the generation the others sleep on. */
static void rendezvous(int nranks) {
  struct barrier *b = barrier_map();
  if (!b || nranks < 2) return;
  int gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE);
  if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == nranks) {
    __atomic_store_n(&b->count, 0, __ATOMIC_RELEASE);
    __atomic_add_fetch(&b->gen, 1, __ATOMIC_ACQ_REL);
    syscall(SYS_futex, &b->gen, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    return;
  }
  while (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) == gen) syscall(SYS_futex, &b->gen, FUTEX_WAIT, gen, NULL, NULL, 0);
}

static void maybe_hang(void) {
  const char *f = getenv("FAKE_NCCL_HANG");
  while (f && access(f, F_OK) == 0) usleep(10000);
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) { (void)id; return 0; }
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
  (void)id;
  if (ncomms >= 64) return 1;
  comms[ncomms].rank = rank;
  comms[ncomms].nranks = nranks;
  *comm = &comms[ncomms++];
  return 0;
}
ncclResult_t ncclCommDestroy(ncclComm_t comm) { (void)comm; return 0; }

__attribute__((noinline)) ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm, void *stream) {
  (void)sendbuff; (void)recvbuff; (void)count; (void)datatype; (void)op; (void)stream;
  maybe_hang();
  if (comm) rendezvous(comm->nranks);
  return 0;
}
ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm, void *stream) {
  (void)sendbuff; (void)recvbuff; (void)count; (void)datatype; (void)root; (void)comm; (void)stream;
  maybe_hang();
  return 0;
}
ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype, ncclComm_t comm, void *stream) {
  (void)sendbuff; (void)recvbuff; (void)sendcount; (void)datatype; (void)comm; (void)stream;
  maybe_hang();
  return 0;
}
ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount, ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm, void *stream) {
  (void)sendbuff; (void)recvbuff; (void)recvcount; (void)datatype; (void)op; (void)comm; (void)stream;
  maybe_hang();
  return 0;
}
ncclResult_t ncclGroupStart(void) { return 0; }
ncclResult_t ncclGroupEnd(void) { maybe_hang(); return 0; }
const char *ncclGetErrorString(ncclResult_t r) { return r ? "unhandled system error" : "no error"; }
