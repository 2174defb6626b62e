/** Plans and their outcomes, one JSON file per plan in <stateDir>/plans, written atomically (tmp + fsync + rename). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Plan } from './plan';

export class PlanStore {
  readonly dir: string;
  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'plans');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // leftovers of a crash during a write: the rename never happened, the old file is intact
    for (const f of fs.readdirSync(this.dir)) if (f.includes('.tmp-')) fs.rmSync(path.join(this.dir, f), { force: true });
  }

  private file(id: string): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new RangeError(`bad plan id "${id}"`);
    return path.join(this.dir, `${id}.json`);
  }

  save(plan: Plan): void {
    const f = this.file(plan.plan_id);
    const tmp = `${f}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify(plan, null, 1)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, f);
    const dfd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  }

  /** Deletes a plan file (retention); gone already is fine. */
  remove(id: string): void {
    fs.rmSync(this.file(id), { force: true });
  }

  load(id: string): Plan | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.file(id), 'utf8')) as Plan;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  all(): Plan[] {
    const out: Plan[] = [];
    for (const f of fs.readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      const p = this.load(f.slice(0, -5));
      if (p) out.push(p);
    }
    return out;
  }
}
