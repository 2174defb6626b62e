#include "ring_reader.h"

#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace {
// Kernel ABI (include/uapi/linux/bpf.h): 8-byte record header, len with flags.
constexpr uint32_t kBusyBit = BPF_RINGBUF_BUSY_BIT;
constexpr uint32_t kDiscardBit = BPF_RINGBUF_DISCARD_BIT;
constexpr uint32_t kHeaderSize = BPF_RINGBUF_HDR_SZ;

inline uint64_t LoadAcquire(const void* p) {
  return __atomic_load_n(static_cast<const uint64_t*>(p), __ATOMIC_ACQUIRE);
}
inline uint32_t LoadAcquire32(const void* p) {
  return __atomic_load_n(static_cast<const uint32_t*>(p), __ATOMIC_ACQUIRE);
}
inline void StoreRelease(void* p, uint64_t v) {
  __atomic_store_n(static_cast<uint64_t*>(p), v, __ATOMIC_RELEASE);
}
}  // namespace

RingReader::~RingReader() { Close(); }

std::string RingReader::Open(int fd, uint32_t max_entries) {
  page_size_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  mask_ = max_entries - 1;
  void* c = mmap(nullptr, page_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (c == MAP_FAILED) return std::string("mmap ring consumer page: ") + strerror(errno);
  // Data is mapped twice back to back, so a record that wraps reads contiguously.
  producer_len_ = page_size_ + 2 * static_cast<size_t>(max_entries);
  void* p = mmap(nullptr, producer_len_, PROT_READ, MAP_SHARED, fd, page_size_);
  if (p == MAP_FAILED) {
    int e = errno;
    munmap(c, page_size_);
    return std::string("mmap ring data: ") + strerror(e);
  }
  consumer_page_ = c;
  producer_area_ = p;
  fd_ = fd;
  return "";
}

void RingReader::Close() {
  if (consumer_page_) munmap(consumer_page_, page_size_);
  if (producer_area_) munmap(producer_area_, producer_len_);
  consumer_page_ = producer_area_ = nullptr;
  fd_ = -1;  // the map fd belongs to the bpf_object
}

bool RingReader::HasData() const {
  if (!consumer_page_) return false;
  return LoadAcquire(consumer_page_) < LoadAcquire(producer_area_);
}

size_t RingReader::Drain(uint8_t* dst, size_t max_records, uint64_t* bad, uint32_t* flagged) {
  if (!consumer_page_ || max_records == 0) return 0;
  const uint8_t* data = static_cast<const uint8_t*>(producer_area_) + page_size_;
  uint64_t cons = LoadAcquire(consumer_page_);
  uint64_t prod = LoadAcquire(producer_area_);
  size_t n = 0;
  while (cons < prod && n < max_records) {
    const uint8_t* hdr = data + (cons & mask_);
    uint32_t len = LoadAcquire32(hdr);
    if (len & kBusyBit) break;  // reserved, not yet committed: stop in order
    uint32_t payload = len & ~(kBusyBit | kDiscardBit);
    cons += (payload + kHeaderSize + 7) & ~7u;
    if (len & kDiscardBit) continue;
    if (payload != kRecordSize) {
      ++*bad;
      continue;
    }
    memcpy(dst + n * kRecordSize, hdr + kHeaderSize, kRecordSize);
    *flagged += (hdr[kHeaderSize + offsetof(xctl_hdr, flags)] & XCTL_F_NO_OWNER) ? 1 : 0;
    ++n;
  }
  StoreRelease(consumer_page_, cons);
  return n;
}
