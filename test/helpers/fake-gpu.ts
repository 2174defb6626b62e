// The GPU test doubles (test/gpu/*.c): C libraries with the real symbol names
// and struct layouts, built on demand into build/test-gpu. The production code
// dlopens them by path like the real ones and does not know they are doubles.
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../fixtures/paths';

function mtime(p: string): number | undefined {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}

/** build/test-gpu/libnvidia-ml.so.1 from test/gpu/fake-nvml.c (rebuilt when the source is newer). */
export function fakeNvmlPath(): string {
  const src = join(repoRoot(), 'test', 'gpu', 'fake-nvml.c');
  const dir = join(repoRoot(), 'build', 'test-gpu');
  const lib = join(dir, 'libnvidia-ml.so.1');
  const lt = mtime(lib);
  if (lt !== undefined && lt >= (mtime(src) ?? 0)) return lib;
  mkdirSync(dir, { recursive: true });
  const tmp = `${lib}.tmp-${process.pid}`;
  execFileSync('cc', ['-O2', '-Wall', '-shared', '-fPIC', '-Wl,-soname,libnvidia-ml.so.1', '-o', tmp, src, '-lpthread']);
  renameSync(tmp, lib);
  return lib;
}

function buildIfStale(out: string, src: string, args: string[]): string {
  const ot = mtime(out);
  if (ot !== undefined && ot >= (mtime(src) ?? 0)) return out;
  mkdirSync(join(repoRoot(), 'build', 'test-gpu'), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  execFileSync('cc', ['-O2', '-Wall', ...args, '-o', tmp, src], { cwd: join(repoRoot(), 'build', 'test-gpu') });
  renameSync(tmp, out);
  return out;
}

/**
 * build/test-gpu/{libcudart.so.12, libnccl.so.2, gpu-app}: the CUDA runtime and
 * NCCL doubles and a program linked against them like a real application.
 */
export function fakeGpuApp(): { app: string; cudart: string; nccl: string } {
  const dir = join(repoRoot(), 'build', 'test-gpu');
  const src = (f: string) => join(repoRoot(), 'test', 'gpu', f);
  const cudart = buildIfStale(join(dir, 'libcudart.so.12'), src('fake-cudart.c'), ['-shared', '-fPIC', '-Wl,-soname,libcudart.so.12']);
  const nccl = buildIfStale(join(dir, 'libnccl.so.2'), src('fake-nccl.c'), ['-shared', '-fPIC', '-Wl,-soname,libnccl.so.2']);
  const app = join(dir, 'gpu-app');
  if ((mtime(app) ?? 0) < Math.max(mtime(src('gpu-app.c')) ?? 0, mtime(cudart) ?? 0, mtime(nccl) ?? 0)) {
    const tmp = `${app}.tmp-${process.pid}`;
    execFileSync(
      'cc',
      ['-O2', '-Wall', '-o', tmp, src('gpu-app.c'), '-L.', '-l:libcudart.so.12', '-l:libnccl.so.2', '-lpthread', '-Wl,-rpath,$ORIGIN'],
      { cwd: dir },
    );
    renameSync(tmp, app);
  }
  return { app, cudart, nccl };
}

export interface FakeGpu {
  mem_total?: number;
  mem_used?: number;
  util?: number;
  temp?: number;
  power_mw?: number;
  clock_reasons?: number;
  procs?: [number, number][];
  error?: number;
}

/**
 * The fake NVML's control file (FAKE_NVML_STATE): rewritten whole by set(),
 * events appended by event() (the fake delivers each event line once and
 * keeps its place by count, so events are kept across set()).
 */
export class FakeNvmlState {
  private events: string[] = [];
  private lines: string[] = [];
  constructor(readonly file: string) {
    writeFileSync(file, '');
  }
  set(gpus: FakeGpu[], extra: Record<string, string | number> = {}): void {
    const l = [`gpus=${gpus.length}`];
    gpus.forEach((g, i) => {
      if (g.mem_total !== undefined) l.push(`gpu${i}.mem_total=${g.mem_total}`);
      if (g.mem_used !== undefined) l.push(`gpu${i}.mem_used=${g.mem_used}`);
      if (g.util !== undefined) l.push(`gpu${i}.util=${g.util}`);
      if (g.temp !== undefined) l.push(`gpu${i}.temp=${g.temp}`);
      if (g.power_mw !== undefined) l.push(`gpu${i}.power=${g.power_mw}`);
      if (g.clock_reasons !== undefined) l.push(`gpu${i}.clock_reasons=0x${g.clock_reasons.toString(16)}`);
      if (g.procs?.length) l.push(`gpu${i}.procs=${g.procs.map(([p, b]) => `${p}:${b}`).join(',')}`);
      if (g.error) l.push(`gpu${i}.error=${g.error}`);
    });
    for (const [k, v] of Object.entries(extra)) l.push(`${k}=${v}`);
    this.lines = l;
    this.flush();
  }
  /** type 8 = Xid (data = the Xid number), 1/2 = single/double-bit ECC, 0x4000 = GPU unavailable */
  event(gpu: number, type: number, data: number): void {
    const line = `event=${gpu}:${type}:${data}`;
    this.events.push(line);
    appendFileSync(this.file, `${line}\n`);
  }
  private flush(): void {
    writeFileSync(`${this.file}.tmp`, `${[...this.lines, ...this.events].join('\n')}\n`);
    renameSync(`${this.file}.tmp`, this.file);
  }
}
