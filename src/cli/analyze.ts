/**
 * `xctl analyze FILE why <pid> | ps`: the agent's graph and rules over a
 * recording, offline and without root, for bug reports and post-mortems.
 */
import { parseArgs } from 'node:util';
import { RecordReader, RecordingError } from '../record/file';
import { loadRuleDir, defaultRulesDir } from '../rules';
import { Pipeline } from '../engine/pipeline';
import { readSnapshot } from '../identity/snapshot';
import { WhyError, answerWhy } from '../why/why';
import { renderPs, renderWhy } from './render';
import { UsageError } from './usage';

export const ANALYZE_HELP = `usage: xctl analyze FILE why <pid> [--json] [--rules DIR]
       xctl analyze FILE ps [--json] [--rules DIR]`;

export async function analyzeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, rules: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${ANALYZE_HELP}\n`);
    return 0;
  }
  const [file, sub, pidText] = positionals;
  if (!file || (sub !== 'why' && sub !== 'ps')) throw new UsageError(`expected FILE why <pid> or FILE ps\n${ANALYZE_HELP}`);
  const loaded = loadRuleDir(values.rules ?? defaultRulesDir());
  if (!loaded.ruleSet) {
    for (const e of loaded.errors) process.stderr.write(`${e.toString()}\n`);
    return 2;
  }
  const pipeline = new Pipeline(loaded.ruleSet);
  let reader: RecordReader;
  try {
    reader = RecordReader.open(file);
    for (const k of reader.changedKinds) process.stderr.write(`xctl analyze: ${k.reason}\n`);
    for (const b of reader.batches()) pipeline.ingest(b);
    reader.close();
    // identities written by `xctl record` next to the recording (never resolved here: another host, another time)
    const ids = readSnapshot(file, (m) => process.stderr.write(`xctl analyze: ${m}\n`));
    if (ids) pipeline.attachIdentities(ids);
  } catch (e) {
    if (e instanceof RecordingError) {
      process.stderr.write(`xctl analyze: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (sub === 'ps') {
    const rows = pipeline.ps();
    process.stdout.write(`${values.json ? JSON.stringify(rows) : renderPs(rows)}\n`);
    return 0;
  }
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`why needs a pid, got "${pidText ?? ''}"`);
  try {
    const answer = answerWhy(pipeline, pid);
    process.stdout.write(`${values.json ? JSON.stringify(answer) : renderWhy(answer)}\n`);
    return answer.scene === 'healthy' ? 1 : 0;
  } catch (e) {
    if (e instanceof WhyError) {
      process.stderr.write(`xctl analyze: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
