// Anything that hands whole records to the session's batches: a BPF ring, the
// NVML queue, records made in userspace (in-flight NCCL collectives).
// Session::DrainAll runs one loop over them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>

#include "../bpf/xctl_record.h"

class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // Copies up to `max_records` whole records into dst and returns how many.
  // *bad: records skipped as malformed; *flagged: copied records carrying
  // XCTL_F_NO_OWNER (both accumulate; sources without either leave them alone).
  virtual size_t Drain(uint8_t* dst, size_t max_records, uint64_t* bad, uint32_t* flagged) = 0;
};

// Records built in userspace on the loop thread, queued until the next drain.
class RecordQueue : public RecordSource {
 public:
  explicit RecordQueue(size_t max_records) : max_(max_records) {}
  // False (record dropped) when the queue is full.
  bool Push(const xctl_record& r) {
    if (queue_.size() >= max_) return false;
    queue_.push_back(r);
    return true;
  }
  size_t Drain(uint8_t* dst, size_t max_records, uint64_t*, uint32_t*) override {
    size_t n = 0;
    for (; n < max_records && !queue_.empty(); n++) {
      memcpy(dst + n * XCTL_RECORD_SIZE, &queue_.front(), XCTL_RECORD_SIZE);
      queue_.pop_front();
    }
    return n;
  }

 private:
  std::deque<xctl_record> queue_;
  size_t max_;
};
