// Writes the files container runtimes leave on a node, under a root directory,
// in the layout and with the annotations each runtime really uses (trimmed OCI
// specs: only the fields xctl reads plus a few neighbours).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONTAINERD_TASKS, DOCKER_CONTAINERS, STORAGE_LIB, STORAGE_RUN } from '../../src/identity/runtime-files';

export interface PodNames {
  container: string;
  pod: string;
  namespace: string;
  uid: string;
}

function write(file: string, body: unknown): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
  return file;
}

/** containerd CRI plugin: the task bundle's config.json in namespace k8s.io. */
export function writeContainerd(root: string, id: string, n: PodNames, ns = 'k8s.io'): string {
  return write(path.join(root, CONTAINERD_TASKS, ns, id, 'config.json'), {
    ociVersion: '1.1.0',
    process: { args: ['python3', 'train.py'], cwd: '/' },
    annotations: {
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': n.container,
      'io.kubernetes.cri.image-name': 'registry.local/train:1',
      'io.kubernetes.cri.sandbox-id': 'f'.repeat(64),
      'io.kubernetes.cri.sandbox-name': n.pod,
      'io.kubernetes.cri.sandbox-namespace': n.namespace,
      'io.kubernetes.cri.sandbox-uid': n.uid,
    },
  });
}

/** CRI-O: userdata/config.json under containers/storage's run root. */
export function writeCrio(root: string, id: string, n: PodNames): string {
  return write(path.join(root, STORAGE_RUN, id, 'userdata', 'config.json'), {
    ociVersion: '1.0.2-dev',
    annotations: {
      'io.container.manager': 'cri-o',
      'io.kubernetes.container.name': n.container,
      'io.kubernetes.cri-o.ContainerType': 'container',
      'io.kubernetes.pod.name': n.pod,
      'io.kubernetes.pod.namespace': n.namespace,
      'io.kubernetes.pod.uid': n.uid,
    },
  });
}

/** podman (4.x, as measured here): config.json without a name, the name in containers.json. */
export function writePodman(root: string, id: string, name: string): string {
  write(path.join(root, STORAGE_LIB, id, 'userdata', 'config.json'), {
    ociVersion: '1.0.2-dev',
    annotations: { 'io.container.manager': 'libpod', 'io.kubernetes.cri-o.TTY': 'false', 'io.podman.annotations.init': 'FALSE' },
  });
  const list = path.join(root, STORAGE_LIB, 'containers.json');
  let entries: unknown[] = [];
  try {
    entries = JSON.parse(fs.readFileSync(list, 'utf8')) as unknown[];
  } catch {}
  entries.push({ id, names: [name], image: 'a'.repeat(64), metadata: JSON.stringify({ name }) });
  return write(list, entries);
}

/** docker: config.v2.json with Name "/x" (and cri-dockerd's labels when `n` is given). */
export function writeDocker(root: string, id: string, name: string, n?: PodNames): string {
  const Labels = n
    ? {
        'io.kubernetes.container.name': n.container,
        'io.kubernetes.pod.name': n.pod,
        'io.kubernetes.pod.namespace': n.namespace,
        'io.kubernetes.pod.uid': n.uid,
      }
    : {};
  return write(path.join(root, DOCKER_CONTAINERS, id, 'config.v2.json'), { ID: id, Name: `/${name}`, Config: { Labels } });
}

export { write as writeRaw };
