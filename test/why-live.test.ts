// `why` on a live host reads /proc during the query, and what it learns there
// stays with that query: the graph is not written, and a pipe wait that has
// ended is not followed by the next query. Real processes, no probes: the
// reader is a shell blocked in read() on a pipe whose only writer is stopped.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadAddon } from '../src/native/addon';
import { Pipeline } from '../src/engine/pipeline';
import { answerWhy } from '../src/why/why';
import { loadRuleDir, defaultRulesDir } from '../src/rules';
import { inspectProcess } from '../src/procfs/inspect';

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (pred()) return;
  if (!pred()) throw new Error(`timed out waiting until ${what}`);
}

/**
 * W stops itself holding the write end; once continued it writes one line and
 * stops again. R blocks reading; after the line it execs sleep (same pid, no
 * longer on the pipe).
 */
async function stoppedWriterPipe(t: Test): Promise<{ reader: number; writer: number }> {
  const w = `echo W $$ >&2; kill -STOP $$; echo line; kill -STOP $$; exec sleep 60`;
  const r = `echo R $$ >&2; read x; exec sleep 60`;
  const sh = spawn('sh', ['-c', `sh -c '${w}' | sh -c '${r}'`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  sh.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const pids: number[] = [];
  t.teardown(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    sh.kill('SIGKILL');
  });
  await until(() => /W \d+/.test(err) && /R \d+/.test(err), 'both shells print their pids');
  const writer = Number(/W (\d+)/.exec(err)![1]);
  const reader = Number(/R (\d+)/.exec(err)![1]);
  pids.push(writer, reader);
  await until(
    () => inspectProcess(writer)?.stateName === 'stopped' && inspectProcess(reader)?.blockedOn?.kind === 'pipe',
    'the reader waits on the stopped writer',
  );
  return { reader, writer };
}

t.test('a pipe wait learnt from /proc answers one query, is not kept in the graph, and is not followed once it has ended', async (t) => {
  const { reader, writer } = await stoppedWriterPipe(t);
  const rules = loadRuleDir(defaultRulesDir());
  if (!rules.ruleSet) throw new Error(rules.errors.join('\n'));
  const addon = loadAddon();
  const p = new Pipeline(rules.ruleSet, { clock: () => Number(addon.bootTimeNs()), live: { inspect: true, providers: {} } });
  const before = p.graph.size;

  const first = answerWhy(p, reader);
  t.equal(first.scene, 'process_blocked', first.summary);
  t.equal(first.culprit?.id.startsWith(`p:${writer}:`), true, `the stopped writer is the culprit (${first.culprit?.label})`);
  t.equal(first.chain.length, 1);
  t.equal(first.chain[0]!.evidence.source, 'procfs', 'the link is what /proc showed now');
  t.match(
    first.chain[0]!.evidence.text,
    new RegExp(`blocked reading pipe:\\[\\d+\\]; sh \\(${writer}\\) holds its write end and is stopped`),
  );
  t.same(p.graph.size, before, 'the query added no node and no edge to the graph');
  t.equal(p.graph.findProcess(reader), undefined, 'the reader is still unknown to the graph');

  // the writer writes its line and stops again: the reader reads it and leaves the pipe
  process.kill(writer, 'SIGCONT');
  await until(
    () => inspectProcess(reader)?.comm === 'sleep' && inspectProcess(writer)?.stateName === 'stopped',
    'the reader has moved on and the writer is stopped again',
  );

  const second = answerWhy(p, reader);
  t.equal(second.scene, 'healthy', `the ended wait on the (still stopped) writer is not followed: ${second.summary}`);
  t.same(second.chain, []);
  t.equal(second.findings.length, 0);
  t.same(p.graph.size, before, 'still no node and no edge added');
});
