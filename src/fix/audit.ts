/**
 * Append-only audit log of remediation, one JSON object per line. Every record
 * is written with ONE write(2) of the full line (newline included) followed by
 * fsync(2), so a crash leaves at most a trailing partial line, never a torn
 * record in the middle. On open the file is scanned: a trailing partial line is
 * truncated away (and reported), and every `before` record that has no matching
 * `after` (the agent died mid-step) is answered by an `interrupted` record.
 *
 * Retention: past `maxBytes` the file is rotated (file -> file.1 -> ... ->
 * file.<keep>, the oldest deleted) by a few renames, never a copy, and only
 * when no step is open: a before/after pair is always in one file, so the
 * recovery scan of the current file sees every open step.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type AuditPhase = 'before' | 'after' | 'refused' | 'interrupted' | 'plan';

export interface AuditRecord {
  ts: string;
  plan_id: string;
  /** step index in the plan (-1: about the request or plan as a whole) */
  step: number;
  phase: AuditPhase;
  caller_uid: number | null;
  caller_pid?: number | null;
  action: string;
  target: unknown;
  result?: string;
  error?: string;
  [k: string]: unknown;
}

export interface AuditRecovery {
  /** bytes of a trailing partial line that were cut off */
  truncatedBytes: number;
  /** (plan_id, step) pairs marked interrupted */
  interrupted: { plan_id: string; step: number }[];
}

export interface AuditRetention {
  /** rotate once the current file reaches this size (bytes) */
  maxBytes: number;
  /** rotated files kept beside the current one (file.1 newest) */
  keep: number;
}

export const DEFAULT_AUDIT_RETENTION: AuditRetention = { maxBytes: 64 * 2 ** 20, keep: 4 };

export class AuditLog {
  private fd: number;
  private size = 0;
  private recovering = false;
  /** `plan_id#step` of before records whose after has not been written yet */
  private readonly open = new Set<string>();
  readonly recovery: AuditRecovery;
  /** rotations since open (tests, metrics) */
  rotations = 0;

  constructor(
    readonly file: string,
    readonly retention: AuditRetention = DEFAULT_AUDIT_RETENTION,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.fd = this.openFile();
    this.recovering = true;
    this.recovery = this.recover();
    this.recovering = false;
    this.rotateIfDue();
  }

  private openFile(): number {
    const fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600);
    this.size = fs.fstatSync(fd).size;
    return fd;
  }

  /** The rotated files that exist, newest first. */
  rotated(): string[] {
    const out: string[] = [];
    for (let i = 1; i <= this.retention.keep; i++) if (fs.existsSync(`${this.file}.${i}`)) out.push(`${this.file}.${i}`);
    return out;
  }

  private rotateIfDue(): void {
    if (this.size < this.retention.maxBytes || this.open.size || this.recovering) return;
    const { keep } = this.retention;
    fs.rmSync(`${this.file}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      try {
        fs.renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    fs.renameSync(this.file, `${this.file}.1`);
    fs.closeSync(this.fd);
    this.fd = this.openFile();
    const dfd = fs.openSync(path.dirname(this.file), 'r');
    try {
      fs.fsyncSync(dfd); // the renames and the new file survive a crash
    } finally {
      fs.closeSync(dfd);
    }
    this.rotations++;
  }

  private recover(): AuditRecovery {
    const text = fs.readFileSync(this.file, 'utf8');
    let truncatedBytes = 0;
    let body = text;
    if (text.length && !text.endsWith('\n')) {
      const keep = text.lastIndexOf('\n') + 1;
      body = text.slice(0, keep);
      truncatedBytes = Buffer.byteLength(text) - Buffer.byteLength(body);
      fs.ftruncateSync(this.fd, Buffer.byteLength(body));
      fs.fsyncSync(this.fd);
    }
    const open = new Map<string, AuditRecord>();
    for (const line of body.split('\n')) {
      if (!line) continue;
      let r: AuditRecord;
      try {
        r = JSON.parse(line) as AuditRecord;
      } catch {
        continue; // cannot happen with whole-line writes; never fatal
      }
      const k = `${r.plan_id}#${r.step}`;
      if (r.phase === 'before') open.set(k, r);
      else if (r.phase === 'after' || r.phase === 'interrupted') open.delete(k);
    }
    const interrupted: AuditRecovery['interrupted'] = [];
    for (const r of open.values()) {
      this.append({
        plan_id: r.plan_id,
        step: r.step,
        phase: 'interrupted',
        caller_uid: r.caller_uid,
        caller_pid: r.caller_pid,
        action: r.action,
        target: r.target,
        result: 'interrupted',
        error: 'the agent stopped between the before and after records of this step; its effect is unknown',
      });
      interrupted.push({ plan_id: r.plan_id, step: r.step });
    }
    return { truncatedBytes, interrupted };
  }

  append(rec: Omit<AuditRecord, 'ts'>): AuditRecord {
    const full = { ts: new Date().toISOString(), ...rec } as AuditRecord;
    const line = Buffer.from(`${JSON.stringify(full)}\n`);
    // O_APPEND + one write of the whole line: a line is either all there or (crash) a trailing fragment
    let off = 0;
    while (off < line.length) off += fs.writeSync(this.fd, line, off, line.length - off);
    fs.fsyncSync(this.fd);
    this.size += line.length;
    const k = `${full.plan_id}#${full.step}`;
    if (full.phase === 'before') this.open.add(k);
    else if (full.phase === 'after' || full.phase === 'interrupted') this.open.delete(k);
    this.rotateIfDue();
    return full;
  }

  /** All records kept, oldest first: the rotated files, then the current one (tests). */
  read(): AuditRecord[] {
    return [...this.rotated().reverse(), this.file]
      .flatMap((f) => fs.readFileSync(f, 'utf8').split('\n'))
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditRecord);
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* closed */
    }
  }
}
