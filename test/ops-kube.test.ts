// The Kubernetes node-condition client against a fake API server on loopback,
// over https with a self-signed certificate made by openssl.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeClient, NodeConditionPublisher, CONDITION_TYPE } from '../src/ops/kube';
import { AgentMetrics } from '../src/ops/metrics';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-kube-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    path.join(dir, 'key.pem'),
    '-out',
    path.join(dir, 'ca.crt'),
  ],
  { stdio: 'ignore' },
);
const sa = path.join(dir, 'sa');
fs.mkdirSync(sa);
fs.writeFileSync(path.join(sa, 'token'), 'test-token-123\n');
fs.copyFileSync(path.join(dir, 'ca.crt'), path.join(sa, 'ca.crt'));
fs.writeFileSync(path.join(sa, 'namespace'), 'xctl');

interface Req {
  method: string;
  url: string;
  headers: Record<string, unknown>;
  body: any;
}
const seen: Req[] = [];
let failNext = 0;
const server = https.createServer(
  { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'ca.crt')) },
  (req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: body ? JSON.parse(body) : undefined });
      if (failNext > 0) {
        failNext--;
        res.writeHead(503, { 'content-type': 'application/json' });
        return res.end('{"kind":"Status","message":"etcd unavailable"}');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"kind":"Node"}');
    });
  },
);
let port = 0;
t.before(
  () =>
    new Promise<void>((r) =>
      server.listen(0, '127.0.0.1', () => {
        port = (server.address() as { port: number }).port;
        r();
      }),
    ),
);
t.teardown(() => server.close());

t.test('in-cluster config and the PATCH body', async (t) => {
  t.throws(() => KubeClient.inCluster('n1', {}, sa), { message: /KUBERNETES_SERVICE_HOST is not set/ });
  t.throws(() => KubeClient.inCluster('n1', { KUBERNETES_SERVICE_HOST: '127.0.0.1' }, path.join(dir, 'nope')), {
    message: /service account token/,
  });
  t.throws(() => new KubeClient({ baseUrl: 'http://127.0.0.1:1', nodeName: 'x' }), { message: /must be https/ });
  const c = KubeClient.inCluster('gpu-node-7', { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, sa);
  seen.length = 0;
  await c.setNodeCondition(
    { status: 'True', reason: 'GpuFatalError', message: 'gpu_xid: Xid 79 on GPU 0' },
    new Date('2025-01-02T03:04:05.678Z'),
  );
  t.equal(seen.length, 1);
  const r = seen[0]!;
  t.equal(r.method, 'PATCH');
  t.equal(r.url, '/api/v1/nodes/gpu-node-7/status');
  t.equal(r.headers['content-type'], 'application/strategic-merge-patch+json');
  t.equal(r.headers.authorization, 'Bearer test-token-123');
  t.same(r.body, {
    status: {
      conditions: [
        {
          type: CONDITION_TYPE,
          status: 'True',
          reason: 'GpuFatalError',
          message: 'gpu_xid: Xid 79 on GPU 0',
          lastHeartbeatTime: '2025-01-02T03:04:05Z',
          lastTransitionTime: '2025-01-02T03:04:05Z',
        },
      ],
    },
  });
  // a wrong CA is refused: the client really verifies the server
  const other = new KubeClient({ baseUrl: `https://127.0.0.1:${port}`, nodeName: 'x', ca: undefined });
  await t.rejects(other.setNodeCondition({ status: 'False', reason: 'r', message: 'm' }), { message: /self.signed|certificate/i });
});

t.test('the publisher: True with an event on a fatal finding, False when it clears, retry on errors', async (t) => {
  const c = KubeClient.inCluster('gpu-node-7', { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, sa);
  const metrics = new AgentMetrics();
  const p = new NodeConditionPublisher(c, undefined, metrics);
  seen.length = 0;
  await p.update([]);
  t.equal(seen.length, 0, 'nothing published while healthy from the start');
  failNext = 1;
  await p.update([{ scene: 'gpu_xid', cause: 'Xid 79: GPU fell off the bus' }]);
  t.equal(p.state, undefined, 'failed PATCH: not marked published');
  await p.update([{ scene: 'gpu_xid', cause: 'Xid 79: GPU fell off the bus' }]);
  t.equal(p.state, 'True');
  const patch = seen.filter((r) => r.method === 'PATCH').at(-1)!;
  t.equal(patch.body.status.conditions[0].status, 'True');
  t.equal(patch.body.status.conditions[0].message, 'gpu_xid: Xid 79: GPU fell off the bus');
  const ev = seen.find((r) => r.method === 'POST')!;
  t.equal(ev.url, '/api/v1/namespaces/xctl/events');
  t.equal(ev.body.involvedObject.kind, 'Node');
  t.equal(ev.body.involvedObject.name, 'gpu-node-7');
  t.equal(ev.body.type, 'Warning');
  const n = seen.length;
  await p.update([{ scene: 'gpu_xid', cause: 'Xid 79: GPU fell off the bus' }]);
  t.equal(seen.length, n, 'no repeat while unchanged');
  await p.update([]);
  t.equal(p.state, 'False');
  t.equal(seen.at(-1)!.body.status.conditions[0].status, 'False');
  const text = await metrics.registry.metrics();
  t.match(text, /^xctl_kube_node_condition_updates_total\{outcome="ok"\} 2$/m);
  t.match(text, /^xctl_kube_node_condition_updates_total\{outcome="error"\} 1$/m);
});
