/**
 * The live source: kernel probes through the native addon, delivered as
 * RecordBatch views over reused, JS-owned buffers (one callback per batch).
 *
 * The only per-record work done here is the userspace owner fallback for TCP
 * records the kernel could not attribute; it patches the record in place so
 * every consumer (and every recording) sees the resolved owner.
 */
import {
  loadAddon,
  programsNotRunning,
  type Family,
  type FamilyStatus,
  type GpuOptions,
  type CudaOptions,
  type NativeSession,
  type NativeStats,
  type ProbeConfig,
} from '../native/addon';
import { defaultFamilies } from '../native/families';
import { RecordBatch } from '../events/decoder';
import { UserError } from '../errors';
import { F_NO_OWNER, Kind, OFFSETS, OWNER_USERSPACE, RECORD_SIZE, COMM_LEN } from '../events/layout';
import { currentBootToWallOffsetNs, type BootClock } from '../events/clock';
import { SocketOwnerResolver } from './socket-owner';
import { GpuLibraryWatcher, type GpuLibraryEvent } from './gpu-libs';
import { familyInfo } from '../native/families';
import { preflight, PreflightError } from './preflight';

export type BatchSink = (batch: RecordBatch) => void;

export interface LiveOptions {
  families?: Family[];
  config?: ProbeConfig;
  /** NVML options, used when families include 'gpu' */
  gpu?: GpuOptions;
  /** uprobe options, used when families include 'cuda' */
  cuda?: CudaOptions;
  /** records per batch buffer (two buffers rotate) */
  batchRecords?: number;
  ringBytes?: number;
  resolveSocketOwners?: boolean;
  /** Start with draining paused (benchmarks); resume() starts it. */
  paused?: boolean;
  /** Called when the sink throws; the batch is counted lost and probing goes on. */
  onSinkError?: (err: unknown, records: number) => void;
  /** Called when uprobes attach to or detach from a CUDA/NCCL library a process maps. */
  onLibraryChange?: (e: GpuLibraryEvent) => void;
}

export class ProbeError extends UserError {
  override name = 'ProbeError';
  constructor(
    message: string,
    readonly status: FamilyStatus[],
  ) {
    super(message);
  }
}

export class LiveSource {
  readonly clock: BootClock;
  readonly notes: string[] = [];
  private session: NativeSession | undefined;
  private readonly buffers: ArrayBuffer[];
  private readonly resolver = new SocketOwnerResolver();
  /** Keeps a loaded uprobe family attached to the libraries processes map (none loaded: undefined). */
  gpuLibraries: GpuLibraryWatcher | undefined;
  ownersResolved = 0;
  /** records in batches whose sink threw (a consumer bug must not stop probing) */
  sinkLostRecords = 0;

  constructor(private readonly opts: LiveOptions = {}) {
    const records = opts.batchRecords ?? 1024; // 128 KiB: the copy is still in cache when JS decodes it
    this.buffers = [new ArrayBuffer(records * RECORD_SIZE), new ArrayBuffer(records * RECORD_SIZE)];
    this.clock = { bootToWallOffsetNs: currentBootToWallOffsetNs(loadAddon().bootTimeNs()) };
  }

  /**
   * Loads and attaches the probes and starts delivering batches to `sink`.
   * Throws PreflightError (no privileges / BTF) or ProbeError (nothing attached);
   * partial failures are in status().
   */
  start(sink: BatchSink): FamilyStatus[] {
    const report = preflight();
    this.notes.push(...report.notes);
    const families = this.opts.families ?? defaultFamilies();
    const resolve = this.opts.resolveSocketOwners !== false;
    this.session = loadAddon().open({
      families,
      config: this.opts.config,
      gpu: this.opts.gpu,
      cuda: this.opts.cuda,
      ringBytes: this.opts.ringBytes,
      paused: this.opts.paused,
      buffers: this.buffers,
      onBatch: (index, count, needsOwner) => {
        const batch = new RecordBatch(this.buffers[index]!, 0, count);
        if (resolve && needsOwner > 0) this.resolveOwners(batch);
        const libs = this.gpuLibraries;
        if (libs) for (let i = 0; i < count; i++) if (batch.kind(i) === Kind.EXEC) libs.notePid(batch.pid(i));
        try {
          sink(batch);
        } catch (err) {
          this.sinkLostRecords += count;
          this.opts.onSinkError?.(err, count);
        }
      },
    });
    const status = this.session.status();
    // a loaded uprobe family counts: its programs attach when a process maps the library
    const following = (f: FamilyStatus) => familyInfo(f.family)?.source === 'uprobe' && f.loaded;
    const attached = status.some((f) => following(f) || f.programs.some((p) => p.attached));
    if (!attached) {
      this.session.stop();
      this.session = undefined;
      throw new ProbeError(`xctl: no probe could be attached:\n${describeFailures(status)}`, status);
    }
    if (status.some(following)) {
      this.gpuLibraries = new GpuLibraryWatcher(
        { attach: (p) => this.session?.attachLibrary(p), detach: (p) => this.session?.detachLibrary(p) ?? false },
        { onChange: this.opts.onLibraryChange },
      );
      this.gpuLibraries.start();
    }
    return status;
  }

  status(): FamilyStatus[] {
    return this.session?.status() ?? [];
  }

  stats(): NativeStats | undefined {
    return this.session?.stats();
  }

  setConfig(config: ProbeConfig): void {
    this.session?.setConfig(config);
  }

  programStats() {
    return this.session?.programStats() ?? [];
  }

  pause(): void {
    this.session?.pause();
  }

  libraries(): string[] {
    return this.session?.libraries() ?? [];
  }

  resume(): void {
    this.session?.resume();
  }

  /** Delivers everything already in the rings, synchronously. */
  drain(): number {
    return this.session?.drain() ?? 0;
  }

  /** Drains what is left, detaches and frees everything. */
  stop(): void {
    this.gpuLibraries?.stop();
    this.gpuLibraries = undefined;
    this.session?.stop();
    this.session = undefined;
  }

  private resolveOwners(b: RecordBatch): void {
    for (let i = 0; i < b.count; i++) {
      if (b.kind(i) !== Kind.TCP_RETRANSMIT || (b.flags(i) & F_NO_OWNER) === 0) continue;
      const owner = this.resolver.resolve(b.u64(i, OFFSETS['tcp.sock_ino']));
      if (!owner) continue;
      const bytes = b.recordBytes(i);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, RECORD_SIZE);
      dv.setUint32(OFFSETS['hdr.pid'], owner.pid, true);
      dv.setUint32(OFFSETS['hdr.tid'], owner.pid, true);
      dv.setBigUint64(OFFSETS['hdr.start_ns'], owner.startNs, true);
      bytes[OFFSETS['hdr.flags']] = (bytes[OFFSETS['hdr.flags']] ?? 0) & ~F_NO_OWNER;
      bytes[OFFSETS['tcp.owner_src']] = OWNER_USERSPACE;
      const comm = Buffer.from(owner.comm, 'utf8').subarray(0, COMM_LEN - 1);
      bytes.fill(0, OFFSETS['hdr.comm'], OFFSETS['hdr.comm'] + COMM_LEN);
      bytes.set(comm, OFFSETS['hdr.comm']);
      this.ownersResolved++;
    }
  }
}

export function describeFailures(status: FamilyStatus[]): string {
  const lines: string[] = [];
  for (const f of status) {
    if (f.error) lines.push(`  ${f.family}: ${f.error}`);
    for (const p of programsNotRunning(f)) lines.push(`  ${f.family}/${p.name} (${p.section}): ${p.error ?? 'not attached'}`);
  }
  return lines.join('\n') || '  (no families requested)';
}

export { PreflightError };
