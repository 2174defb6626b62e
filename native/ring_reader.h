// Consumer of one BPF ring buffer map, reading the shared mmap directly.
//
// libbpf's ring_buffer__consume() calls a callback per record; we need to stop
// exactly when the JS batch buffer is full and copy each record once into it,
// so we speak the (stable, documented) ring protocol ourselves: a consumer page
// we write, a producer page plus the double-mapped data area we read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../bpf/xctl_record.h"
#include "record_source.h"

class RingReader : public RecordSource {
 public:
  RingReader() = default;
  ~RingReader() override;
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  // Maps the ring of map `fd` (max_entries bytes of data). Returns "" or an error.
  std::string Open(int fd, uint32_t max_entries);
  void Close();
  int fd() const { return fd_; }

  // Copies whole records of exactly kRecordSize bytes into dst (capacity
  // `max_records`), returns how many were copied. Records of another size are
  // skipped and counted in *bad. Consumer position is published on return.
  // The size is a compile-time constant so the copy is inlined (vector moves).
  static constexpr size_t kRecordSize = XCTL_RECORD_SIZE;
  // *flagged counts copied records with XCTL_F_NO_OWNER (userspace must resolve
  // their owner): JS can skip its owner pass when a batch has none.
  size_t Drain(uint8_t* dst, size_t max_records, uint64_t* bad, uint32_t* flagged) override;
  bool HasData() const;

 private:
  int fd_ = -1;
  size_t page_size_ = 0;
  uint64_t mask_ = 0;
  void* consumer_page_ = nullptr;  // u64 consumer_pos at offset 0 (rw)
  void* producer_area_ = nullptr;  // u64 producer_pos at 0, data at page_size_ (ro)
  size_t producer_len_ = 0;
};
