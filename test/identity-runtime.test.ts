// Names from the runtime files on the node: containerd, CRI-O, podman and docker
// layouts under a temp root (identity.host_root), and the bad inputs: missing,
// malformed, oversized files, a container that is gone.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { namesFromRuntimeFiles, RUNTIME_FILE_MAX_BYTES, STORAGE_LIB } from '../src/identity/runtime-files';
import { writeContainerd, writeCrio, writeDocker, writePodman, writeRaw } from './helpers/runtime-files';

const id = (c: string) => c.repeat(64);
const N = { container: 'trainer', pod: 'llama-0', namespace: 'ml', uid: '0d6b2c8e-3f1a-4b5c-9d7e-1a2b3c4d5e6f' };

function tmpRoot(t: Test): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-rt-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

t.test('containerd CRI annotations', async (t) => {
  const root = tmpRoot(t);
  const file = writeContainerd(root, id('a'), N);
  t.same(namesFromRuntimeFiles(id('a'), 'containerd', root), {
    runtime: 'containerd',
    name: 'trainer',
    pod: { name: 'llama-0', namespace: 'ml', uid: N.uid },
    source: file,
  });
  // a cgroupfs-driver pod gives no runtime: found all the same, and the runtime learnt
  t.equal(namesFromRuntimeFiles(id('a'), 'unknown', root).runtime, 'containerd');
  // another containerd namespace (moby, default) without CRI annotations: runtime, no names
  writeRaw(path.join(root, 'run/containerd/io.containerd.runtime.v2.task/moby', id('b'), 'config.json'), { annotations: {} });
  t.same(namesFromRuntimeFiles(id('b'), 'unknown', root).name, undefined);
});

t.test('CRI-O annotations', async (t) => {
  const root = tmpRoot(t);
  const file = writeCrio(root, id('c'), N);
  t.same(namesFromRuntimeFiles(id('c'), 'cri-o', root), {
    runtime: 'cri-o',
    name: 'trainer',
    pod: { name: 'llama-0', namespace: 'ml', uid: N.uid },
    source: file,
  });
});

t.test('podman: name from containers/storage containers.json', async (t) => {
  const root = tmpRoot(t);
  writePodman(root, id('d'), 'web');
  writePodman(root, id('e'), 'db');
  const r = namesFromRuntimeFiles(id('e'), 'podman', root);
  t.equal(r.runtime, 'podman');
  t.equal(r.name, 'db');
  t.notOk(r.pod);
  // the list changes (a new container): re-read, not a stale cache
  writePodman(root, id('f'), 'cache');
  t.equal(namesFromRuntimeFiles(id('f'), 'podman', root).name, 'cache');
});

t.test('docker: Name, and cri-dockerd labels', async (t) => {
  const root = tmpRoot(t);
  writeDocker(root, id('1'), 'web');
  t.same(namesFromRuntimeFiles(id('1'), 'docker', root).name, 'web');
  writeDocker(root, id('2'), 'k8s_trainer_llama-0_ml_x_0', N);
  t.same(namesFromRuntimeFiles(id('2'), 'docker', root).pod, { name: 'llama-0', namespace: 'ml', uid: N.uid });
  t.equal(namesFromRuntimeFiles(id('2'), 'docker', root).name, 'trainer');
});

t.test('bad input: missing, malformed, oversized, not an id', async (t) => {
  const root = tmpRoot(t);
  const gone = namesFromRuntimeFiles(id('9'), 'containerd', root);
  t.notOk(gone.name);
  t.match(gone.note, /no runtime file for 999999999999 under/);
  writeRaw(path.join(root, 'run/containerd/io.containerd.runtime.v2.task/k8s.io', id('8'), 'config.json'), '{"annotations": {');
  const bad = namesFromRuntimeFiles(id('8'), 'containerd', root);
  t.equal(bad.runtime, 'containerd');
  t.notOk(bad.name);
  t.match(bad.note, /malformed JSON/);
  writeRaw(path.join(root, 'run/containerd/io.containerd.runtime.v2.task/k8s.io', id('7'), 'config.json'), '[1,2]');
  t.match(namesFromRuntimeFiles(id('7'), 'containerd', root).note, /not a JSON object/);
  writeRaw(
    path.join(root, 'var/lib/docker/containers', id('6'), 'config.v2.json'),
    `{"Name":"/x","pad":"${'x'.repeat(RUNTIME_FILE_MAX_BYTES)}"}`,
  );
  t.match(namesFromRuntimeFiles(id('6'), 'docker', root).note, /over/);
  // annotations of the wrong type: no names, no throw
  writeRaw(path.join(root, 'run/containerd/io.containerd.runtime.v2.task/k8s.io', id('5'), 'config.json'), { annotations: ['x'] });
  t.same(namesFromRuntimeFiles(id('5'), 'containerd', root), {
    runtime: 'containerd',
    source: path.join(root, 'run/containerd/io.containerd.runtime.v2.task/k8s.io', id('5'), 'config.json'),
  });
  // podman config.json present, containers.json malformed: runtime known, name unknown, said why
  writeRaw(path.join(root, STORAGE_LIB, id('4'), 'userdata', 'config.json'), { annotations: { 'io.container.manager': 'libpod' } });
  writeRaw(path.join(root, STORAGE_LIB, 'containers.json'), 'garbage');
  const p = namesFromRuntimeFiles(id('4'), 'podman', root);
  t.equal(p.runtime, 'podman');
  t.notOk(p.name);
  t.match(p.note, /containers.json: malformed/);
  t.match(namesFromRuntimeFiles('../../etc', 'docker', root).note, /not a container id/);
  // the root itself missing
  t.match(namesFromRuntimeFiles(id('3'), 'unknown', path.join(root, 'nope')).note, /no runtime file/);
});
