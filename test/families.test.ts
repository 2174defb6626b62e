// One declaration per concept: the probe family table (addon.families()) and
// the config key table drive help, validation, defaults and the README; every
// error class extends XctlError. Regression for help defaults that disagreed
// with the effective ones (`agent --help` said net,io,proc,sched; the agent ran gpu too).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { xctl, ROOT } from './helpers/ops';
import { loadAddon } from '../src/native/addon';
import { defaultFamilies, probeFamilies } from '../src/native/families';
import { CONFIG_KEYS, ConfigError } from '../src/config/config';
import { GENERATED, README, generatedSection } from '../src/cli/doc-tables';
import { XctlError } from '../src/errors';
import { UsageError } from '../src/cli/usage';
import { RuleError } from '../src/rules/errors';
import { PreflightError } from '../src/sources/preflight';
import { ProbeError } from '../src/sources/live';
import { IpcError, FrameError, AgentAlreadyRunningError, SocketPathOccupiedError, AgentUnavailableError } from '../src/ipc/errors';
import { KubeError } from '../src/ops/kube';
import { ExecError } from '../src/faults/exec';
import { RecordingError } from '../src/record/header';
import { WhyError } from '../src/why/why';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-families-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const emptyConfig = path.join(dir, 'empty.yaml');
fs.writeFileSync(emptyConfig, '');
// the effective config of a host with no file and no XCTL_* environment
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('XCTL_'))), XCTL_CONFIG: emptyConfig };

t.test('the family table: one row per BPF object, object = family', async (t) => {
  const table = loadAddon().families();
  t.same(probeFamilies(), table);
  t.equal(new Set(table.map((f) => f.name)).size, table.length, 'names are unique');
  for (const f of table) {
    t.ok(['bpf', 'nvml', 'uprobe'].includes(f.source), `${f.name}: source ${f.source}`);
    t.equal(f.object, f.source === 'nvml' ? undefined : `${f.name}.bpf.o`, `${f.name}: object`);
    t.ok(f.description.length > 10, `${f.name} has a description`);
  }
  const sources = fs
    .readdirSync(path.join(ROOT, 'bpf'))
    .filter((n) => n.endsWith('.bpf.c'))
    .map((n) => n.replace(/\.bpf\.c$/, '.bpf.o'));
  t.same(
    sources.sort(),
    table
      .filter((f) => f.object)
      .map((f) => f.object!)
      .sort(),
    'every bpf/*.bpf.c is a family and every BPF family has its source',
  );
  t.same(defaultFamilies(), ['net', 'io', 'proc', 'sched', 'syscall', 'gpu']);
});

t.test('every --help that shows the families default shows the effective default', async (t) => {
  const shown = await xctl(['config', 'show', '--json'], { env });
  t.equal(shown.code, 0, shown.stderr);
  const effective = JSON.parse(shown.stdout).config.families;
  t.same(effective.value, defaultFamilies(), 'config show = the agent and LiveSource default (defaultFamilies())');
  t.equal(effective.source, 'default');
  const ioMin = JSON.parse(shown.stdout).config['probes.io_min_latency'].value;
  let checked = 0;
  for (const cmd of [['agent'], ['events'], ['record'], ['doctor'], ['config', 'show'], ['why'], ['analyze'], ['fix']]) {
    const r = await xctl([...cmd, '--help'], { env });
    const m = /--families LIST\s+[^(]*\(default\s+(?:\$XCTL_FAMILIES\s+or\s+)?([\w,]+)/.exec(r.stdout); // help wraps long lines
    if (!/--families/.test(r.stdout)) continue;
    checked++;
    t.ok(m, `${cmd.join(' ')} --help states the default`);
    t.same(m?.[1]?.split(','), effective.value, `${cmd.join(' ')} --help: families default`);
    const io = /--io-min-ms N\s+.*\(default (\d+)\)/.exec(r.stdout);
    t.equal(`${io?.[1]}ms`, ioMin, `${cmd.join(' ')} --help: io-min-ms default`);
  }
  t.ok(checked >= 3, 'agent, events and record show the families');
});

t.test('family names are validated against the table everywhere', async (t) => {
  const ev = await xctl(['events', '--families', 'gpu9'], { env });
  t.equal(ev.code, 2);
  t.match(ev.stderr, /unknown probe family "gpu9" \(families: net, io, proc, sched, syscall, gpu, cuda\)/);
  const bad = path.join(dir, 'fam.yaml');
  fs.writeFileSync(bad, 'families: [net, nope]\n');
  const v = await xctl(['config', 'validate', bad], { env });
  t.equal(v.code, 1);
  t.match(v.stderr, `${bad}:1:11: unknown probe family "nope"`);
  const cuda = await xctl(['config', 'show', '--json', '--families', 'net,cuda'], { env });
  t.same(JSON.parse(cuda.stdout).config.families.value, ['net', 'cuda'], 'an opt-in family is accepted');
});

t.test('README tables are generated from their declarations', async (t) => {
  const text = fs.readFileSync(README, 'utf8');
  for (const [name, table] of Object.entries(GENERATED))
    t.equal(generatedSection(text, name), table(), `README "${name}" table is current (run: node dist/src/cli/doc-tables.js)`);
  t.ok(
    CONFIG_KEYS.every((k) => generatedSection(text, 'config-keys')!.includes(`| \`${k.key}\` |`)),
    'every key is in the README',
  );
});

t.test('every error class extends XctlError; the CLI decides with instanceof', async (t) => {
  const classes = [
    UsageError,
    ConfigError,
    RuleError,
    PreflightError,
    ProbeError,
    IpcError,
    FrameError,
    AgentAlreadyRunningError,
    SocketPathOccupiedError,
    AgentUnavailableError,
    KubeError,
    ExecError,
    RecordingError,
    WhyError,
  ];
  for (const c of classes) t.ok(c.prototype instanceof XctlError, `${c.name} extends XctlError`);
  const forUsers = [
    new UsageError('m'),
    new ConfigError('m'),
    new PreflightError('m'),
    new ProbeError('m', []),
    new AgentAlreadyRunningError('/s'),
    new SocketPathOccupiedError('/s', 'a file'),
  ];
  for (const e of forUsers) t.same([e.userFacing, e.exitCode], [true, 2], `${e.constructor.name} is for users, exit 2`);
  const faults = [
    new RuleError('f', 1, 2, 'm'),
    new IpcError('INTERNAL' as never, 'm'),
    new AgentUnavailableError('m', '/s'),
    new KubeError('m'),
    new RecordingError('m', 0),
  ];
  for (const e of faults) t.equal(e.userFacing, false, `${e.constructor.name} is handled by its caller or is a fault`);
  t.ok(new RuleError('f', 1, 2, 'm') instanceof Error, 'RuleError is an Error');
  t.equal(String(new RuleError('f', 1, 2, 'm')), 'f:1:2: m');
  // a user-facing error ends the command with its exit code and its message alone
  const r = await xctl(['agent', '--config', path.join(dir, 'absent.yaml')], { env });
  t.equal(r.code, 2);
  t.match(r.stderr, /^cannot read config .*absent\.yaml/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack');
});
