/* A test CUDA runtime (libcudart.so.12): the real symbol names and ABI
 * (cudaError_t = int, cudaErrorMemoryAllocation = 2), no GPU. Allocations
 * succeed until the process has allocated $FAKE_CUDA_MEM_LIMIT bytes
 * (default 80 GiB), then fail with cudaErrorMemoryAllocation. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };

static unsigned long long used;
static uintptr_t next_addr = 0x7f0000000000ULL;

static unsigned long long limit(void) {
  const char *s = getenv("FAKE_CUDA_MEM_LIMIT");
  return s ? strtoull(s, NULL, 0) : 80ULL << 30;
}

__attribute__((noinline)) cudaError_t cudaMalloc(void **devPtr, size_t size) {
  if (!devPtr) return cudaErrorInvalidValue;
  if (used + size > limit()) {
    *devPtr = NULL;
    return cudaErrorMemoryAllocation;
  }
  used += size;
  *devPtr = (void *)next_addr;
  next_addr += (size + 255) & ~(size_t)255;
  return cudaSuccess;
}

cudaError_t cudaMallocManaged(void **devPtr, size_t size, unsigned int flags) {
  (void)flags;
  return cudaMalloc(devPtr, size);
}

cudaError_t cudaFree(void *devPtr) {
  (void)devPtr;
  return cudaSuccess;
}

const char *cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    default: return "unknown error";
  }
}
