/* A test NCCL (libnccl.so.2): the real symbol names and ABI (ncclResult_t =
 * int, ncclComm_t = opaque pointer). Collectives return at once, except while
 * the file named by $FAKE_NCCL_HANG exists: then they block (a rank stuck in
 * a collective) until it is removed. */
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

typedef int ncclResult_t;
typedef struct ncclComm *ncclComm_t;
typedef int ncclDataType_t;
typedef int ncclRedOp_t;
typedef struct { char internal[128]; } ncclUniqueId;

static struct ncclComm { int rank, nranks; } comms[64];
static int ncomms;

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
  (void)sendbuff; (void)recvbuff; (void)count; (void)datatype; (void)op; (void)comm; (void)stream;
  maybe_hang();
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
