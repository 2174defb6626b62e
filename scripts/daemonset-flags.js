#!/usr/bin/env node
// The `podman run` / `docker run` flags that give a container exactly what the DaemonSet's agent container
// gets: host pid namespace, capabilities, seccomp, read-only root, the host mounts and the literal env.
// scripts/image-test.sh runs the image with these, and test/ops-deploy.test.ts checks the Dockerfile's
// `docker run` comment against them, so the two documents and the test cannot drift apart.
//   node scripts/daemonset-flags.js [--host /run/xctl=/tmp/x/run ...]   one flag or value per line
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { parseAllDocuments } = require('yaml');

const DAEMONSET = path.join(__dirname, '../deploy/kubernetes/daemonset.yaml');

/** The flags for the DaemonSet's first container; `hostDirs` maps a hostPath to another host directory. */
function daemonSetRunFlags(text = fs.readFileSync(DAEMONSET, 'utf8'), hostDirs = {}) {
  const ds = parseAllDocuments(text)
    .map((d) => d.toJSON())
    .find((d) => d && d.kind === 'DaemonSet');
  if (!ds) throw new Error('no DaemonSet document');
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  const sc = c.securityContext || {};
  if (sc.privileged) throw new Error('the DaemonSet asks for privileged: true');
  const flags = [];
  if (pod.hostPID) flags.push('--pid=host');
  if (sc.readOnlyRootFilesystem) flags.push('--read-only');
  for (const cap of sc.capabilities?.drop ?? []) flags.push('--cap-drop', cap);
  for (const cap of sc.capabilities?.add ?? []) flags.push('--cap-add', cap);
  if (sc.seccompProfile?.type === 'Unconfined') flags.push('--security-opt', 'seccomp=unconfined');
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (v?.hostPath) {
      const host = hostDirs[v.hostPath.path] ?? v.hostPath.path;
      flags.push('-v', `${host}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
    } else if (v?.emptyDir) flags.push('--tmpfs', m.mountPath);
    else throw new Error(`volume ${m.name}: only hostPath and emptyDir are mapped`);
  }
  for (const e of c.env ?? []) if (typeof e.value === 'string') flags.push('-e', `${e.name}=${e.value}`);
  return flags;
}

module.exports = { daemonSetRunFlags, DAEMONSET };

if (require.main === module) {
  const hostDirs = {};
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const m = args[i] === '--host' ? /^([^=]+)=(.+)$/.exec(args[++i] ?? '') : null;
    if (!m) {
      process.stderr.write('usage: daemonset-flags.js [--host HOSTPATH=DIR ...]\n');
      process.exit(2);
    }
    hostDirs[m[1]] = m[2];
  }
  process.stdout.write(`${daemonSetRunFlags(undefined, hostDirs).join('\n')}\n`);
}
