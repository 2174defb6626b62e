/**
 * `xctl doctor [--json]`: checks the machine for the agent (kernel, BTF,
 * capabilities, mounts, each probe family, NVML, rules, socket, state dir).
 * Exit 0 when nothing fails (warnings and "unavailable" allowed), 1 when a
 * check fails, 2 on usage errors.
 */
import { parseArgs } from 'node:util';
import { resolveConfig, type Resolved } from '../config/config';
import { runDoctor, type Check } from '../ops/doctor';
import { CONFIG_FLAG_OPTIONS, configFlags } from './config';

export const DOCTOR_HELP = `usage: xctl doctor [--json] [--config FILE] [agent flags...]
  Checks what the agent needs: kernel version, BTF, CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN,
  tracefs/bpffs/cgroup2 mounts, each probe family attachable (loads and detaches it),
  NVML, the rules, the socket, the state directory. Each check has a status
  (ok, warn, fail, unavailable) and the fix. Exit 1 when any check fails.`;

const MARK: Record<Check['status'], string> = { ok: ' ok ', warn: 'warn', fail: 'FAIL', unavailable: 'n/a ', skip: 'skip' };

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...CONFIG_FLAG_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${DOCTOR_HELP}\n`);
    return 0;
  }
  let resolved: Resolved;
  let configError: string | undefined;
  try {
    resolved = resolveConfig({ file: values.config, flags: configFlags(values) });
  } catch (e) {
    configError = (e as Error).message;
    resolved = resolveConfig({ file: undefined, env: {}, flags: {} });
  }
  const checks = await runDoctor({ config: resolved.config, configError, configFile: resolved.file });
  const failed = checks.filter((c) => c.status === 'fail');
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ok: failed.length === 0, checks }, null, 2)}\n`);
  } else {
    const w = Math.max(...checks.map((c) => c.title.length));
    for (const c of checks) {
      process.stdout.write(`[${MARK[c.status]}] ${c.title.padEnd(w)}  ${c.detail.replace(/\n/g, `\n${' '.repeat(w + 9)}`)}\n`);
      if (c.status !== 'ok') process.stdout.write(`${' '.repeat(w + 9)}fix: ${c.fix}\n`);
    }
    process.stdout.write(
      failed.length ? `\n${failed.length} check(s) failed: ${failed.map((c) => c.id).join(', ')}\n` : '\nno failed checks\n',
    );
  }
  return failed.length ? 1 : 0;
}
