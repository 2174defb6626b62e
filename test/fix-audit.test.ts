// Audit log retention (issue 13 #9): size-based rotation with N files kept, by renames (no copy), never
// between the before and after of a step; the fix service's per-uid limit and re-check tick. No agent, no probes.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { AuditLog, type AuditRecord } from '../src/fix/audit';
import { FixService, RECHECK_SLICE } from '../src/agent/fix-service';
import { Pipeline } from '../src/engine/pipeline';
import type { FixConfig } from '../src/fix/policy';
import { defaultRulesDir, loadRuleDir } from '../src/rules';
import { seedResolvedPlans } from './helpers/plans';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-audit-'));
t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(root, `a${n++}`, 'audit.jsonl');
const line = (i: number): Omit<AuditRecord, 'ts'> => ({
  plan_id: `p${i}`,
  step: -1,
  phase: 'plan',
  caller_uid: 0,
  action: 'plan',
  target: { pad: 'x'.repeat(100) },
  seq: i,
});
const files = (f: string) =>
  fs
    .readdirSync(path.dirname(f))
    .filter((x) => x.startsWith('audit.jsonl'))
    .sort();

t.test('rotates at maxBytes, keeps `keep` files, drops the oldest, loses nothing in between', async (t) => {
  const f = fresh();
  const log = new AuditLog(f, { maxBytes: 4096, keep: 2 });
  const lineBytes = Buffer.byteLength(`${JSON.stringify({ ts: new Date().toISOString(), ...line(100) })}\n`);
  for (let i = 0; i < 200; i++) log.append(line(i));
  t.same(files(f), ['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2'], 'the current file and two rotated ones, no third');
  for (const x of files(f)) t.ok(fs.statSync(path.join(path.dirname(f), x)).size < 4096 + lineBytes, `${x} under maxBytes + one line`);
  const seqs = log.read().map((r) => r.seq as number);
  t.same(
    seqs,
    Array.from({ length: seqs.length }, (_, i) => 200 - seqs.length + i),
    `the newest ${seqs.length} records, in order, none missing`,
  );
  t.ok(seqs.length >= 2 * Math.floor(4096 / lineBytes), `${seqs.length} records kept`);
  t.ok(log.rotations > 2, `${log.rotations} rotations: more than the files kept, the oldest were dropped`);
  log.close();
});

t.test('a rotation renames (the old inode is file.1), never copies', async (t) => {
  const f = fresh();
  const log = new AuditLog(f, { maxBytes: 4096, keep: 1 });
  const ino = fs.statSync(f).ino;
  let i = 0;
  while (log.rotations === 0) log.append(line(i++));
  t.equal(fs.statSync(`${f}.1`).ino, ino, 'file.1 is the former file');
  t.not(fs.statSync(f).ino, ino, 'a new current file');
  t.equal(fs.statSync(f).size, 0, 'empty until the next record');
  log.close();
});

t.test('never between a before and its after: rotation waits for the step to close', async (t) => {
  const f = fresh();
  const log = new AuditLog(f, { maxBytes: 4096, keep: 4 });
  log.append({ ...line(0), plan_id: 'step', step: 0, phase: 'before' });
  for (let i = 1; i < 80; i++) log.append(line(i));
  t.equal(log.rotations, 0, 'no rotation while the step is open');
  t.ok(fs.statSync(f).size > 2 * 4096, `the file grew to ${fs.statSync(f).size} bytes meanwhile`);
  log.append({ ...line(80), plan_id: 'step', step: 0, phase: 'after' });
  t.equal(log.rotations, 1, 'rotated right after the step closed');
  const rotated = fs.readFileSync(`${f}.1`, 'utf8');
  t.match(rotated, /"plan_id":"step","step":0,"phase":"before"/);
  t.match(rotated, /"plan_id":"step","step":0,"phase":"after"/, 'the pair is in one file');
  log.close();
  // a crash with a step open, past maxBytes: the recovery scan of the current file finds it
  const g = fresh();
  const crashed = new AuditLog(g, { maxBytes: 4096, keep: 4 });
  crashed.append({ ...line(0), plan_id: 'open', step: 1, phase: 'before' });
  for (let i = 1; i < 80; i++) crashed.append(line(i));
  crashed.close();
  const again = new AuditLog(g, { maxBytes: 4096, keep: 4 });
  t.same(again.recovery.interrupted, [{ plan_id: 'open', step: 1 }], 'the open step is marked interrupted on restart');
  t.equal(again.rotations, 1, 'and the oversized file rotated after that');
  t.match(fs.readFileSync(`${g}.1`, 'utf8'), /"plan_id":"open","step":1,"phase":"interrupted"/, 'with its interrupted record');
  again.close();
});

// The fix service's retention and limits without an agent: a pipeline with no probes (no BPF), callers as
// SO_PEERCRED values. The live versions are in hostile-agent.
const quiet = pino({ level: 'silent' });
function service(fix: FixConfig = {}, state = path.join(root, `svc${n++}`)): { svc: FixService; state: string } {
  const rules = loadRuleDir(defaultRulesDir());
  if (!rules.ruleSet) throw new Error(rules.errors.join('\n'));
  const pipeline = new Pipeline(rules.ruleSet, { clock: () => Number(process.hrtime.bigint()) });
  return { svc: new FixService({ stateDir: state, config: { recheckIntervalS: 0, ...fix }, pipeline, logger: quiet }), state };
}
const nobody = { uid: 65534, gid: 65534, pid: 1 };

t.test('callers who may not apply: fix.refused_per_minute per uid, the rest refused before any work, one audit line', async (t) => {
  const { svc } = service({ refusedPerMinute: 3 });
  const codes: string[] = [];
  for (let i = 0; i < 50; i++) await svc.fix(process.pid, { apply: '1' }, nobody).catch((e: { code: string }) => codes.push(e.code));
  t.same(codes, [...Array(3).fill('FORBIDDEN'), ...Array(47).fill('UNAVAILABLE')], '3 forbidden, then 47 too many');
  t.same(
    svc.audit.read().map((r) => [r.phase, r.code, r.caller_uid]),
    Array(3).fill(['refused', 'forbidden', 65534]),
    'one line per forbidden request, none for the rest yet',
  );
  t.equal(fs.readdirSync(svc.store.dir).length, 0, 'no plan file');
  svc.close();
  const last = svc.audit.read().at(-1)!;
  t.same(
    [last.code, last.suppressed, last.error],
    ['rate_limited', 47, '47 refused requests from uid 65534 suppressed in the last minute'],
  );
});

t.test('the periodic re-check: a slice per tick, one plan per event-loop turn', async (t) => {
  const { svc: first, state } = service();
  first.close();
  const dir = path.join(state, 'plans');
  seedResolvedPlans(dir, { created_ns: 0, pid: 1, start_ns: 0, steps: [], results: [] }, 100, 1);
  const { svc } = service({}, state);
  let turns = 0;
  let ticking = true;
  const spin = () => {
    turns++;
    if (ticking) setImmediate(spin);
  };
  setImmediate(spin);
  const got = await svc.recheckTick();
  ticking = false;
  t.equal(got.length, RECHECK_SLICE, `${RECHECK_SLICE} of the 100 re-measured`);
  t.ok(turns >= RECHECK_SLICE, `the event loop turned between plans (${turns} turns)`);
  t.equal(svc.keptCount(), 100);
  t.equal(svc.expire(Date.now() + 8 * 86_400_000), 100, 'past fix.plan_max_age (7 days by default) all go, 100 < EXPIRE_SLICE');
  t.equal(fs.readdirSync(dir).length, 0);
  svc.close();
});
