// Cgroup path shapes -> container runtime/id, pod uid/QoS, slurm job/step: one
// real path of each shape (as the kubelet, containerd, CRI-O, docker, podman and
// slurmstepd write them), and paths that match no shape.
import t from 'tap';
import { identityFromCgroupPath, identityFromCgroups, type CgroupIdentity } from '../src/identity/cgroup-shapes';
import { parseCgroups } from '../src/procfs/parse';

const CID = '4f2a3c1b9e8d7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a';
const UID = '0d6b2c8e-3f1a-4b5c-9d7e-1a2b3c4d5e6f';
const U_ = UID.replace(/-/g, '_');

const cases: [string, string, Omit<CgroupIdentity, 'cgroup'>][] = [
  // kubelet systemd driver, one per QoS class and runtime
  [
    'systemd, burstable, containerd',
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice/cri-containerd-${CID}.scope`,
    { pod: { uid: UID, qos: 'burstable' }, container: { runtime: 'containerd', id: CID } },
  ],
  [
    'systemd, guaranteed, containerd',
    `/kubepods.slice/kubepods-pod${U_}.slice/cri-containerd-${CID}.scope`,
    { pod: { uid: UID, qos: 'guaranteed' }, container: { runtime: 'containerd', id: CID } },
  ],
  [
    'systemd, besteffort, CRI-O',
    `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${U_}.slice/crio-${CID}.scope`,
    { pod: { uid: UID, qos: 'besteffort' }, container: { runtime: 'cri-o', id: CID } },
  ],
  [
    'systemd, burstable, cri-dockerd',
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice/docker-${CID}.scope`,
    { pod: { uid: UID, qos: 'burstable' }, container: { runtime: 'docker', id: CID } },
  ],
  [
    'systemd, guaranteed, podman scope',
    `/kubepods.slice/kubepods-pod${U_}.slice/libpod-${CID}.scope`,
    { pod: { uid: UID, qos: 'guaranteed' }, container: { runtime: 'podman', id: CID } },
  ],
  [
    'systemd, pod cgroup itself (no container)',
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice`,
    { pod: { uid: UID, qos: 'burstable' } },
  ],
  // kubelet cgroupfs driver
  [
    'cgroupfs, guaranteed',
    `/kubepods/pod${UID}/${CID}`,
    { pod: { uid: UID, qos: 'guaranteed' }, container: { runtime: 'unknown', id: CID } },
  ],
  [
    'cgroupfs, burstable',
    `/kubepods/burstable/pod${UID}/${CID}`,
    { pod: { uid: UID, qos: 'burstable' }, container: { runtime: 'unknown', id: CID } },
  ],
  [
    'cgroupfs, besteffort, CRI-O',
    `/kubepods/besteffort/pod${UID}/crio-${CID}`,
    { pod: { uid: UID, qos: 'besteffort' }, container: { runtime: 'cri-o', id: CID } },
  ],
  [
    'cgroupfs, static pod uid (32 hex)',
    `/kubepods/burstable/pod8f1e2d3c4b5a69788796a5b4c3d2e1f0/${CID}`,
    {
      pod: { uid: '8f1e2d3c4b5a69788796a5b4c3d2e1f0', qos: 'burstable' },
      container: { runtime: 'unknown', id: CID },
    },
  ],
  // slurm
  ['slurm v1 step', '/slurm/uid_1000/job_4242/step_0', { slurm: { job: '4242', step: '0' } }],
  ['slurm v1 task', '/slurm/uid_1000/job_4242/step_batch/task_0', { slurm: { job: '4242', step: 'batch' } }],
  ['slurm v1 job only', '/slurm/uid_1000/job_4242', { slurm: { job: '4242' } }],
  ['slurm v2', '/system.slice/slurmstepd.scope/job_77/step_3/user/task_1', { slurm: { job: '77', step: '3' } }],
  ['slurm v2 multiple slurmd', '/system.slice/node7_slurmstepd.scope/job_77/step_extern', { slurm: { job: '77', step: 'extern' } }],
  // containers outside Kubernetes
  ['podman systemd', `/machine.slice/libpod-${CID}.scope`, { container: { runtime: 'podman', id: CID } }],
  ['podman v2 split', `/machine.slice/libpod-${CID}.scope/container`, { container: { runtime: 'podman', id: CID } }],
  [
    'podman rootless',
    `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${CID}.scope`,
    { container: { runtime: 'podman', id: CID } },
  ],
  ['podman cgroupfs', `/libpod_parent/libpod-${CID}`, { container: { runtime: 'podman', id: CID } }],
  ['docker cgroupfs', `/docker/${CID}`, { container: { runtime: 'docker', id: CID } }],
  ['docker systemd', `/system.slice/docker-${CID}.scope`, { container: { runtime: 'docker', id: CID } }],
  // no known shape
  ['a user session', '/user.slice/user-0.slice/session-3.scope', {}],
  ['a service', '/system.slice/containerd.service', {}],
  ['root', '/', {}],
  ['podman conmon is not the container', `/machine.slice/libpod-conmon-${CID}.scope`, {}],
  ['short id is not a container', '/docker/4f2a3c1b', {}],
  ['bare 64-hex outside any known parent', `/something/${CID}`, {}],
  ['kubepods without a pod', '/kubepods.slice/kubepods-burstable.slice', {}],
  ['job_ outside slurm', '/user.slice/job_5/step_1', {}],
  ['empty', '', {}],
];

t.test('every shape', async (t) => {
  for (const [name, path, want] of cases) t.same(identityFromCgroupPath(path), { cgroup: path, ...want }, name);
});

t.test('/proc/<pid>/cgroup: the most informative hierarchy wins', async (t) => {
  // cgroup v1, kubelet systemd driver: every controller in the container scope, but the
  // hierarchies that predate the pod (e.g. a controller the kubelet does not manage) at /
  const scope = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U_}.slice/cri-containerd-${CID}.scope`;
  const v1 = ['12:rdma:/', `11:memory:${scope}`, `4:cpu,cpuacct:${scope}`, `1:name=systemd:${scope}`, '0::/'].join('\n');
  const got = identityFromCgroups(parseCgroups(v1));
  t.same(got.container, { runtime: 'containerd', id: CID });
  t.equal(got.cgroup, scope);
  // slurm on v1: the task cgroup only in memory/cpuset, name=systemd in slurmd's service
  const slurm = ['7:memory:/slurm/uid_0/job_9/step_2/task_0', '1:name=systemd:/system.slice/slurmd.service'].join('\n');
  t.same(identityFromCgroups(parseCgroups(slurm)).slurm, { job: '9', step: '2' });
  // v2 only
  t.same(identityFromCgroups(parseCgroups(`0::/machine.slice/libpod-${CID}.scope/container\n`)).container, { runtime: 'podman', id: CID });
  // nothing to read (the process is gone): cgroup unknown
  t.same(identityFromCgroups(parseCgroups(undefined)), { cgroup: '' });
  // no shape anywhere: the unified or name=systemd path is kept
  t.equal(identityFromCgroups(parseCgroups('3:memory:/a\n1:name=systemd:/user.slice/x.scope\n')).cgroup, '/user.slice/x.scope');
});
