// `why` selectors: the one parser (every form, every bad form) and matching
// against identities; the text header line; ps grouping by pod and job.
import t from 'tap';
import { matchesSelector, parseSelector, SelectorError, selectorText } from '../src/identity/selector';
import { identityLine, type Identity } from '../src/identity/identity';
import { groupRows } from '../src/cli/why';
import type { PsRow } from '../src/engine/answer';

const UID = '0d6b2c8e-3f1a-4b5c-9d7e-1a2b3c4d5e6f';
const CID = 'ab'.repeat(32);
const id: Identity = {
  identity: 'resolved',
  cgroup: '/x',
  pod: { uid: UID, qos: 'burstable', namespace: 'ml', name: 'llama-0' },
  container: { runtime: 'containerd', id: CID, name: 'trainer' },
  rank: { rank: 3, world_size: 8, local_rank: 1, job: 'llama-7b' },
};

t.test('parse: every form', async (t) => {
  t.same(parseSelector('1234'), { kind: 'pid', pid: 1234 });
  t.same(parseSelector(`pod/${UID.toUpperCase()}`), { kind: 'pod', uid: UID });
  t.same(parseSelector('pod/ml/llama-0'), { kind: 'pod', namespace: 'ml', name: 'llama-0' });
  t.same(parseSelector('container/ABCD'), { kind: 'container', prefix: 'abcd' });
  t.same(parseSelector('job/llama-7b'), { kind: 'job', job: 'llama-7b' });
  t.same(parseSelector('job/10.0.0.1:29500', '17'), { kind: 'job', job: '10.0.0.1:29500', rank: 17 });
  t.equal(selectorText(parseSelector('job/x', '2')), 'job/x --rank 2');
  t.equal(selectorText(parseSelector('pod/ml/llama-0')), 'pod/ml/llama-0');
});

t.test('parse: bad forms name the forms', async (t) => {
  for (const [s, rank, msg] of [
    ['', undefined, /not a pid or a selector/],
    ['0', undefined, /no such pid/],
    ['pod/', undefined, /pod\/UID or pod\/NAMESPACE\/NAME/],
    ['pod/a/b/c', undefined, /pod\/UID or pod\/NAMESPACE\/NAME/],
    ['container/abc', undefined, /4 to 64 hex/],
    ['container/xyz1', undefined, /4 to 64 hex/],
    ['job/', undefined, /names no job/],
    ['job/x', '-1', /--rank needs a non-negative integer/],
    ['pod/ml/x', '1', /--rank goes with job/],
    ['42', '1', /--rank goes with job/],
    ['node/x', undefined, /not a pid or a selector/],
  ] as const) {
    t.throws(() => parseSelector(s, rank), SelectorError, s);
    try {
      parseSelector(s, rank);
    } catch (e) {
      t.match((e as Error).message, msg, s);
      t.match((e as Error).message, /pod\/NAMESPACE\/NAME, container\/ID-PREFIX, job\/ID \[--rank N\]/);
    }
  }
});

t.test('match', async (t) => {
  t.ok(matchesSelector(parseSelector(`pod/${UID}`), id));
  t.ok(matchesSelector(parseSelector('pod/ml/llama-0'), id));
  t.notOk(matchesSelector(parseSelector('pod/ml/llama-1'), id));
  t.ok(matchesSelector(parseSelector(`container/${CID.slice(0, 6)}`), id));
  t.notOk(matchesSelector(parseSelector('container/abcd'), id), 'a prefix, not a substring');
  t.ok(matchesSelector(parseSelector('job/llama-7b'), id));
  t.ok(matchesSelector(parseSelector('job/llama-7b', '3'), id));
  t.notOk(matchesSelector(parseSelector('job/llama-7b', '4'), id));
  t.ok(matchesSelector(parseSelector('job/77'), { identity: 'resolved', slurm: { job: '77' } }), 'a Slurm job');
  t.notOk(matchesSelector(parseSelector('job/77', '0'), { identity: 'resolved', slurm: { job: '77' } }), 'no rank: not rank 0');
  t.notOk(matchesSelector(parseSelector('pod/ml/llama-0'), undefined));
});

t.test('identity line', async (t) => {
  t.equal(
    identityLine(id),
    `pod ml/llama-0 (uid ${UID}, burstable) · container trainer (containerd ${CID.slice(0, 12)}) · rank 3/8 (local 1) of job llama-7b`,
  );
  t.equal(
    identityLine({ identity: 'resolved', container: { runtime: 'podman', id: CID } }),
    `container name unknown (podman ${CID.slice(0, 12)})`,
  );
  t.equal(identityLine({ identity: 'resolved', cgroup: '/user.slice/x.scope' }), 'cgroup /user.slice/x.scope');
  t.equal(identityLine({ identity: 'gone' }), 'identity gone (exited before it was read)');
  t.equal(identityLine({ identity: 'resolved', cgroup: '/' }), 'cgroup /');
  t.equal(identityLine(undefined), undefined);
});

t.test('ps grouping by pod and job', async (t) => {
  const row = (pid: number, scene: string, score: number, extra: Partial<PsRow>): PsRow => ({
    pid,
    comm: 'python3',
    state: 'running',
    start_ns: 1,
    last_seen_s: 0,
    scene,
    summary: scene,
    score,
    ...extra,
  });
  const rows = [
    row(1, 'healthy', 0, { pod: id.pod, rank: { rank: 0, job: 'j' } }),
    row(2, 'cpu_starvation', 5, { pod: id.pod, rank: { rank: 1, job: 'j' } }),
    row(3, 'process_crash', 9, { pod: id.pod, rank: { rank: 2, job: 'j' } }),
    row(4, 'healthy', 0, {}),
    row(5, 'healthy', 0, { pod: { uid: 'u2' }, slurm: { job: '77' } }),
  ];
  const byPod = groupRows(rows, 'pod');
  t.same(
    byPod.map((g) => [g.key, g.processes, g.with_findings, g.worst?.pid]),
    [
      ['ml/llama-0', 3, 2, 3],
      ['u2', 1, 0, undefined],
      ['', 1, 0, undefined],
    ],
  );
  const byJob = groupRows(rows, 'job');
  t.same(
    byJob.map((g) => [g.key, g.processes, g.with_findings, g.worst?.rank]),
    [
      ['j', 3, 2, 2],
      ['77', 1, 0, undefined],
      ['', 1, 0, undefined],
    ],
  );
});

t.test('fix plans carry the identity of the answer, and print it', async (t) => {
  const { buildPlan } = await import('../src/fix/plan');
  const { renderPlan } = await import('../src/cli/fix');
  const answer = {
    pid: 4242,
    comm: 'python3',
    start_ns: 1,
    state: 'running',
    scene: 'healthy',
    confidence: 0.9,
    summary: 'fine',
    chain: [],
    actions: [],
    findings: [],
    dropped_events: 0,
    window_s: 300,
    answered_in_ms: 0,
    ...id,
  };
  const plan = buildPlan(answer, { nowNs: 1, policy: () => 'ask', measure: () => 0 });
  t.same([plan.pod, plan.container, plan.rank], [id.pod, id.container, id.rank]);
  t.match(renderPlan(plan).split('\n')[1], /^ {2}pod ml\/llama-0 .* rank 3\/8/);
  const bare = buildPlan(
    { ...answer, identity: undefined, pod: undefined, container: undefined, rank: undefined },
    {
      nowNs: 1,
      policy: () => 'ask',
      measure: () => 0,
    },
  );
  t.notOk(bare.pod, 'no identity: none claimed');
});
