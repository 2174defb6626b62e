// Packaging: the DaemonSet against the apps/v1 schema fields we use, the RBAC
// the node-condition client needs, the systemd unit (systemd-analyze verify),
// and the Dockerfile's COPY sources exist.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT, run, which } from './helpers/ops';

const ALLOWED_CAPS = new Set(['BPF', 'PERFMON', 'SYS_ADMIN', 'SYS_RESOURCE', 'NET_ADMIN', 'SYS_PTRACE', 'DAC_READ_SEARCH']);
type Obj = Record<string, any>;

/** A structural validator for the apps/v1 DaemonSet fields we use; returns the problems. */
export function validateDaemonSet(ds: Obj): string[] {
  const errs: string[] = [];
  const need = (cond: unknown, msg: string) => {
    if (!cond) errs.push(msg);
  };
  const isStr = (v: unknown) => typeof v === 'string' && v.length > 0;
  need(ds.apiVersion === 'apps/v1', 'apiVersion must be apps/v1');
  need(ds.kind === 'DaemonSet', 'kind must be DaemonSet');
  need(isStr(ds.metadata?.name), 'metadata.name required');
  const sel = ds.spec?.selector?.matchLabels;
  need(sel && typeof sel === 'object', 'spec.selector.matchLabels required');
  const tpl = ds.spec?.template;
  const labels = tpl?.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(sel ?? {})) need(labels[k] === v, `template label ${k}=${String(v)} must match the selector`);
  const pod = tpl?.spec;
  need(pod && typeof pod === 'object', 'spec.template.spec required');
  if (!pod) return errs;
  need(pod.hostPID === true, 'hostPID must be true');
  need(pod.restartPolicy === undefined || pod.restartPolicy === 'Always', 'DaemonSet pods must restartPolicy Always');
  need(Array.isArray(pod.containers) && pod.containers.length > 0, 'containers required');
  const volumes = new Map<string, Obj>((pod.volumes ?? []).map((v: Obj) => [v.name, v]));
  for (const v of volumes.values()) {
    need(isStr(v.name), 'volume name required');
    const sources = ['hostPath', 'emptyDir', 'configMap', 'secret', 'projected'].filter((k) => k in v);
    need(sources.length === 1, `volume ${v.name}: exactly one source`);
    if (v.hostPath) {
      need(isStr(v.hostPath.path) && v.hostPath.path.startsWith('/'), `volume ${v.name}: hostPath.path absolute`);
      need(
        v.hostPath.type === undefined ||
          ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'].includes(v.hostPath.type),
        `volume ${v.name}: hostPath.type`,
      );
    }
  }
  for (const c of pod.containers ?? []) {
    need(isStr(c.name) && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(c.name), `container name ${c.name} must be a DNS label`);
    need(isStr(c.image), `container ${c.name}: image required`);
    for (const e of c.env ?? []) {
      need(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(e.name), `env name ${e.name}`);
      need(typeof e.value === 'string' || e.valueFrom, `env ${e.name}: value must be a string or valueFrom`);
    }
    const sc = c.securityContext ?? {};
    need(sc.privileged !== true, `container ${c.name}: privileged: true is not allowed`);
    for (const cap of sc.capabilities?.add ?? [])
      need(ALLOWED_CAPS.has(cap), `container ${c.name}: capability ${cap} is not in the allowed set`);
    need(
      !(sc.allowPrivilegeEscalation === false && (sc.capabilities?.add ?? []).includes('SYS_ADMIN')),
      'allowPrivilegeEscalation: false cannot be combined with CAP_SYS_ADMIN',
    );
    const ports = new Map<string, Obj>((c.ports ?? []).map((p: Obj) => [p.name, p]));
    for (const p of ports.values())
      need(Number.isInteger(p.containerPort) && p.containerPort > 0 && p.containerPort < 65536, `port ${p.name}`);
    const rp = c.readinessProbe?.httpGet;
    need(rp?.path === '/readyz', `container ${c.name}: readinessProbe.httpGet.path must be /readyz`);
    need(Number.isInteger(rp?.port) || ports.has(rp?.port), `container ${c.name}: readinessProbe port must be a number or a named port`);
    const mounts = new Map<string, Obj>((c.volumeMounts ?? []).map((m: Obj) => [m.mountPath, m]));
    for (const m of mounts.values()) need(volumes.has(m.name), `volumeMount ${m.mountPath}: no volume ${m.name}`);
    for (const p of ['/sys/kernel/btf', '/sys/kernel/tracing', '/sys/fs/cgroup']) {
      const m = mounts.get(p);
      need(m, `container ${c.name}: must mount ${p}`);
      if (m) need(volumes.get(m.name)?.hostPath?.path === p, `${p} must come from the host's ${p}`);
    }
  }
  return errs;
}

const docs = parseAllDocuments(fs.readFileSync(path.join(ROOT, 'deploy/kubernetes/daemonset.yaml'), 'utf8')).map((d) => {
  if (d.errors.length) throw d.errors[0];
  return d.toJSON() as Obj;
});

t.test('the DaemonSet validates', async (t) => {
  const ds = docs.find((d) => d.kind === 'DaemonSet')!;
  t.ok(ds, 'a DaemonSet document');
  t.same(validateDaemonSet(ds), [], 'no schema problems');
  const c = ds.spec.template.spec.containers[0];
  t.same(c.securityContext.capabilities.drop, ['ALL'], 'drops everything else');
  t.ok(
    c.env.some((e: Obj) => e.name === 'NODE_NAME' && e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName'),
    'node name from the downward API',
  );
  t.equal(ds.spec.template.spec.serviceAccountName, 'xctl-agent');
});

t.test('the validator catches what it must', async (t) => {
  const ds = JSON.parse(JSON.stringify(docs.find((d) => d.kind === 'DaemonSet'))) as Obj;
  const c = ds.spec.template.spec.containers[0];
  c.securityContext.privileged = true;
  c.securityContext.capabilities.add.push('SYS_MODULE');
  c.readinessProbe.httpGet.path = '/healthz';
  ds.spec.template.spec.hostPID = false;
  c.volumeMounts = c.volumeMounts.filter((m: Obj) => m.mountPath !== '/sys/kernel/btf');
  const errs = validateDaemonSet(ds).join('\n');
  for (const re of [/privileged/, /SYS_MODULE/, /readyz/, /hostPID/, /\/sys\/kernel\/btf/]) t.match(errs, re);
});

t.test('RBAC grants exactly what the node-condition client uses', async (t) => {
  const role = docs.find((d) => d.kind === 'ClusterRole')!;
  const rules = role.rules as { resources: string[]; verbs: string[] }[];
  t.ok(rules.some((r) => r.resources.includes('nodes/status') && r.verbs.includes('patch')));
  t.ok(rules.some((r) => r.resources.includes('events') && r.verbs.includes('create')));
  t.notOk(
    rules.some((r) => r.verbs.includes('*') || r.resources.includes('*')),
    'no wildcards',
  );
  const binding = docs.find((d) => d.kind === 'ClusterRoleBinding')!;
  t.equal(binding.roleRef.name, role.metadata.name);
  t.equal(binding.subjects[0].name, 'xctl-agent');
});

t.test('the systemd unit', async (t) => {
  const unit = path.join(ROOT, 'deploy/systemd/xctl-agent.service');
  const text = fs.readFileSync(unit, 'utf8');
  for (const re of [
    /^ExecStart=.*xctl agent$/m,
    /^AmbientCapabilities=.*CAP_BPF.*CAP_PERFMON/m,
    /^CapabilityBoundingSet=/m,
    /^NoNewPrivileges=yes$/m,
    /^ProtectSystem=strict$/m,
    /^StateDirectory=xctl$/m,
    /^RuntimeDirectory=xctl$/m,
    /^Restart=on-failure$/m,
    /^WantedBy=multi-user.target$/m,
  ])
    t.match(text, re);
  const caps = /^CapabilityBoundingSet=(.*)$/m.exec(text)![1]!.split(/\s+/);
  for (const c of caps) t.ok(ALLOWED_CAPS.has(c.replace(/^CAP_/, '')), `${c} allowed`);
  if (which('systemd-analyze')) {
    const r = await run('systemd-analyze', ['verify', unit]);
    t.equal(r.code, 0, `systemd-analyze verify: ${r.stdout}${r.stderr}`);
    t.equal(r.stderr.trim(), '', 'no warnings');
  } else {
    t.match(text, /^\[Unit\][\s\S]*^\[Service\][\s\S]*^\[Install\]/m, 'sections (no systemd-analyze here)');
  }
});

t.test('the Dockerfile copies only paths that exist and runs the agent', async (t) => {
  const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  for (const m of text.matchAll(/^COPY (?:--from=build )?(\S+) /gm)) {
    const src = m[1]!.replace(/^\/opt\/xctl\/?/, '');
    if (src === '.' || /^(dist|build|node_modules)/.test(src)) continue; // built in the image
    t.ok(fs.existsSync(path.join(ROOT, src)), `COPY source ${src} exists`);
  }
  t.match(text, /^CMD \["agent"\]/m);
  t.match(text, /cap-add BPF/);
});

t.test("the Dockerfile's docker run line is the DaemonSet's privileges and mounts, flag for flag", async (t) => {
  const { daemonSetRunFlags } = require(path.join(ROOT, 'scripts/daemonset-flags.js')) as {
    daemonSetRunFlags: (text?: string) => string[];
  };
  const pairs = (tokens: string[]) => {
    const set = new Set<string>();
    const env = new Set<string>();
    for (let i = 0; i < tokens.length; i++) {
      const f = tokens[i]!;
      if (['--cap-drop', '--cap-add', '--security-opt', '-v', '--tmpfs'].includes(f)) set.add(`${f} ${tokens[++i]}`);
      else if (f === '-e') env.add(tokens[++i]!);
      else if (f === '--name' || f === '-p') i++;
      else if (f.startsWith('-') && f !== '-d') set.add(f);
    }
    return { set, env };
  };
  const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  // the comment's command: from "#   docker run" over the lines that end with a backslash
  const lines = text.split('\n');
  let at = lines.findIndex((l) => /^#\s+docker run /.test(l));
  t.ok(at >= 0, 'a docker run line in the Dockerfile comment');
  let cmd = '';
  for (; at >= 0 && at < lines.length; at++) {
    cmd += ` ${lines[at]!.replace(/^#/, '').replace(/\\$/, '')}`;
    if (!lines[at]!.endsWith('\\')) break;
  }
  const tokens = cmd.trim().split(/\s+/).slice(2); // without "docker run"
  t.equal(tokens.at(-1), 'xctl', 'the image last');
  const docker = pairs(tokens.slice(0, -1));
  const ds = pairs(daemonSetRunFlags());
  t.same([...docker.set].sort(), [...ds.set].sort(), 'same pid namespace, capabilities, seccomp, read-only root and mounts');
  for (const e of docker.env) t.ok(ds.env.has(e), `-e ${e} is the DaemonSet's too`);
  for (const need of ['--pid=host', '--cap-drop ALL', '-v /sys/kernel/btf:/sys/kernel/btf:ro']) t.ok(ds.set.has(need), need);
  t.notOk(
    [...ds.set].some((f) => f.includes('privileged')),
    'not privileged',
  );
  // the comparison can fail: a capability missing from one side is caught
  const fewer = daemonSetRunFlags(
    fs.readFileSync(path.join(ROOT, 'deploy/kubernetes/daemonset.yaml'), 'utf8').replace('"SYS_PTRACE", ', ''),
  );
  t.notSame([...pairs(fewer).set].sort(), [...docker.set].sort(), 'a dropped capability shows');
});
