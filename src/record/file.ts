/**
 * The .xrec recording format: one import for writers and readers.
 * Layout and rationale: header.ts.
 */
export {
  CHUNK_HEADER_SIZE,
  CHUNK_MAGIC,
  FILE_MAGIC,
  FORMAT_VERSION,
  MAX_HEADER_BYTES,
  PREAMBLE_SIZE,
  type ChangedKind,
  type HeaderInput,
  type RecordingHeader,
  RecordingError,
  headerClock,
} from './header';
export { RecordWriter, type WriterOptions } from './writer';
export { RecordReader, type RecordChunk, type Recording, readRecording } from './reader';
export { crc32 } from './crc32';
