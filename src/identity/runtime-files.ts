/**
 * Container, pod and namespace names from what the container runtime writes
 * on the node (never the API server): read once per container, off the hot
 * path. Paths are under a configurable root (identity.host_root: "/" on the
 * node, "/host" in the DaemonSet, a temp dir in tests).
 *
 * containerd (CRI plugin): /run/containerd/io.containerd.runtime.v2.task/<ns>/<id>/config.json,
 *   OCI annotations io.kubernetes.cri.container-name, .sandbox-name, .sandbox-namespace, .sandbox-uid
 * CRI-O: /run/containers/storage/overlay-containers/<id>/userdata/config.json (also found under
 *   /var/lib/containers/storage/...), annotations io.kubernetes.container.name, io.kubernetes.pod.name,
 *   io.kubernetes.pod.namespace, io.kubernetes.pod.uid
 * podman: /var/lib/containers/storage/overlay-containers/<id>/userdata/config.json carries no name
 *   (annotation io.container.manager=libpod says it is podman's); the name is in containers/storage's
 *   container list /var/lib/containers/storage/overlay-containers/containers.json ("names")
 * docker: /var/lib/docker/containers/<id>/config.v2.json: "Name" ("/web"), and cri-dockerd's labels
 *   io.kubernetes.container.name, io.kubernetes.pod.name, io.kubernetes.pod.namespace, io.kubernetes.pod.uid
 * A missing, oversized or malformed file: the names stay unknown and `note` says why. Never throws.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Runtime } from './cgroup-shapes';

/** Runtime files larger than this are not parsed (an OCI config.json is tens of KiB). */
export const RUNTIME_FILE_MAX_BYTES = 4 * 1024 * 1024;

export const CONTAINERD_TASKS = 'run/containerd/io.containerd.runtime.v2.task';
export const STORAGE_RUN = 'run/containers/storage/overlay-containers';
export const STORAGE_LIB = 'var/lib/containers/storage/overlay-containers';
export const DOCKER_CONTAINERS = 'var/lib/docker/containers';

export interface RuntimeNames {
  /** the runtime whose file named the container */
  runtime?: Runtime;
  /** container name */
  name?: string;
  pod?: { name?: string; namespace?: string; uid?: string };
  /** the file the names came from */
  source?: string;
  /** why names are missing: no file, malformed file */
  note?: string;
}

type Json = Record<string, unknown>;

function readJson(file: string): { json: Json } | { missing: true } | { bad: string } {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return { bad: `${file}: not a file` };
    if (st.size > RUNTIME_FILE_MAX_BYTES) return { bad: `${file}: ${st.size} bytes, over ${RUNTIME_FILE_MAX_BYTES}` };
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? { missing: true } : { bad: `${file}: ${code ?? (e as Error).message}` };
  }
  try {
    const v: unknown = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) return { bad: `${file}: not a JSON object` };
    return { json: v as Json };
  } catch (e) {
    return { bad: `${file}: malformed JSON (${(e as Error).message})` };
  }
}

function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v))
    for (const [k, x] of Object.entries(v as Json)) if (typeof x === 'string') out[k] = x;
  return out;
}

function podOf(name?: string, namespace?: string, uid?: string): RuntimeNames['pod'] {
  return name || namespace || uid ? { name: name || undefined, namespace: namespace || undefined, uid: uid || undefined } : undefined;
}

function prune(r: RuntimeNames): RuntimeNames {
  for (const k of Object.keys(r) as (keyof RuntimeNames)[]) if (r[k] === undefined) delete r[k];
  if (r.pod) for (const k of Object.keys(r.pod) as (keyof NonNullable<RuntimeNames['pod']>)[]) if (r.pod[k] === undefined) delete r.pod[k];
  return r;
}

/** containerd: the task's bundle in any namespace (k8s.io for the CRI plugin, moby, default). */
function fromContainerd(root: string, id: string, notes: string[]): RuntimeNames | undefined {
  const base = path.join(root, CONTAINERD_TASKS);
  let namespaces: string[];
  try {
    namespaces = fs.readdirSync(base);
  } catch {
    return undefined;
  }
  for (const ns of namespaces) {
    const file = path.join(base, ns, id, 'config.json');
    const r = readJson(file);
    if ('missing' in r) continue;
    if ('bad' in r) {
      notes.push(r.bad);
      return { runtime: 'containerd', source: file };
    }
    const a = strings(r.json.annotations);
    return {
      runtime: 'containerd',
      name: a['io.kubernetes.cri.container-name'] || (a['io.kubernetes.cri.container-type'] === 'sandbox' ? 'POD' : undefined),
      pod: podOf(a['io.kubernetes.cri.sandbox-name'], a['io.kubernetes.cri.sandbox-namespace'], a['io.kubernetes.cri.sandbox-uid']),
      source: file,
    };
  }
  return undefined;
}

/** containers/storage's list of containers (CRI-O and podman): id -> names. Cached by mtime and size. */
const storageLists = new Map<string, { mtimeMs: number; size: number; names: Map<string, string> }>();
function storageName(root: string, id: string, notes: string[]): string | undefined {
  const file = path.join(root, STORAGE_LIB, 'containers.json');
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return undefined;
  }
  let cached = storageLists.get(file);
  if (!cached || cached.mtimeMs !== st.mtimeMs || cached.size !== st.size) {
    const names = new Map<string, string>();
    if (st.size > RUNTIME_FILE_MAX_BYTES) notes.push(`${file}: ${st.size} bytes, over ${RUNTIME_FILE_MAX_BYTES}`);
    else
      try {
        const list: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
        if (!Array.isArray(list)) throw new Error('not a JSON array');
        for (const c of list as Json[]) {
          const n = c?.names;
          if (typeof c?.id === 'string' && Array.isArray(n) && typeof n[0] === 'string') names.set(c.id, n[0]);
        }
      } catch (e) {
        notes.push(`${file}: malformed (${(e as Error).message})`);
      }
    cached = { mtimeMs: st.mtimeMs, size: st.size, names };
    storageLists.set(file, cached);
    if (storageLists.size > 8) storageLists.delete(storageLists.keys().next().value!);
  }
  return cached.names.get(id);
}

/** CRI-O and podman: the container's config.json in containers/storage (run root, then graph root). */
function fromStorage(root: string, id: string, notes: string[]): RuntimeNames | undefined {
  for (const dir of [STORAGE_RUN, STORAGE_LIB]) {
    const file = path.join(root, dir, id, 'userdata', 'config.json');
    const r = readJson(file);
    if ('missing' in r) continue;
    if ('bad' in r) {
      notes.push(r.bad);
      return { runtime: 'unknown', name: storageName(root, id, notes), source: file };
    }
    const a = strings(r.json.annotations);
    const podman = a['io.container.manager'] === 'libpod';
    const k8sName = a['io.kubernetes.container.name'];
    return {
      runtime: podman ? 'podman' : 'cri-o',
      name: k8sName || storageName(root, id, notes),
      pod: podOf(a['io.kubernetes.pod.name'], a['io.kubernetes.pod.namespace'], a['io.kubernetes.pod.uid']),
      source: file,
    };
  }
  return undefined;
}

function fromDocker(root: string, id: string, notes: string[]): RuntimeNames | undefined {
  const file = path.join(root, DOCKER_CONTAINERS, id, 'config.v2.json');
  const r = readJson(file);
  if ('missing' in r) return undefined;
  if ('bad' in r) {
    notes.push(r.bad);
    return { runtime: 'docker', source: file };
  }
  const labels = strings((r.json.Config as Json | undefined)?.Labels);
  const name = typeof r.json.Name === 'string' ? r.json.Name.replace(/^\//, '') : undefined;
  return {
    runtime: 'docker',
    name: labels['io.kubernetes.container.name'] || name,
    pod: podOf(labels['io.kubernetes.pod.name'], labels['io.kubernetes.pod.namespace'], labels['io.kubernetes.pod.uid']),
    source: file,
  };
}

/**
 * The names of container `id` from the runtime's files under `root`. The
 * runtime the cgroup shape suggested is looked at first; 'unknown' (a
 * cgroupfs-driver pod) tries each. Nothing found: `note` says what was searched.
 */
export function namesFromRuntimeFiles(id: string, runtime: Runtime, root = '/'): RuntimeNames {
  if (!/^[0-9a-f]{64}$/.test(id)) return { note: `not a container id: ${id}` };
  const notes: string[] = [];
  const order: ((root: string, id: string, notes: string[]) => RuntimeNames | undefined)[] =
    runtime === 'containerd'
      ? [fromContainerd, fromStorage, fromDocker]
      : runtime === 'docker'
        ? [fromDocker, fromContainerd, fromStorage]
        : [fromStorage, fromContainerd, fromDocker];
  for (const f of order) {
    const r = f(root, id, notes);
    if (r) {
      if (r.runtime === 'unknown') r.runtime = runtime === 'unknown' ? undefined : runtime;
      if (notes.length) r.note = notes.join('; ');
      return prune(r);
    }
  }
  return {
    note: notes.length
      ? notes.join('; ')
      : `no runtime file for ${id.slice(0, 12)} under ${root} (${[CONTAINERD_TASKS, STORAGE_RUN, STORAGE_LIB, DOCKER_CONTAINERS].join(', ')})`,
  };
}
