// network_peer_slow end to end: a local receiver that accepts and never reads, a sender that
// writes until it blocks. `why <sender>` must name the peer and the receiver's pid, follow the
// receiver (multi-hop), and a lossy path must still be network_stall, not a slow peer.
import t, { type Test } from 'tap';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { waitForLine } from '../src/faults/child-output';
import { lossyLink } from '../src/faults/netns';
import { faultProgram } from '../src/faults/programs';
import { parseEndpoint, parseTcpTable, tcpSendBlock } from '../src/procfs/tcp';
import { startTestAgent, type TestAgent } from './helpers/agent';
import { helperPath } from './fixtures/cbuild';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('/proc/net/tcp rows: queues, the zero-window timer, retransmits, v4 and v6 endpoints', async (t) => {
  t.equal(parseEndpoint('0100007F:1F90'), '127.0.0.1:8080');
  t.equal(parseEndpoint('0000000000000000FFFF00000100007F:0016'), '127.0.0.1:22', 'v4-mapped v6');
  t.equal(parseEndpoint('00000000000000000000000001000000:0016'), '[::1]:22');
  const rows = parseTcpTable(
    [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 0100007F:A2C4 01 00260000:00000000 04:000000C8 00000000     0        3 4242 1 0 20 4 30 10 -1',
      '   1: 0100007F:A2C4 0100007F:1F90 01 00000000:00180000 00:00000000 00000002     0        0 4243 1 0 20 4 30 10 -1',
    ].join('\n'),
  );
  t.same(
    rows.map((r) => [r.local, r.remote, r.state, r.txQueue, r.rxQueue, r.timer, r.retransmits, r.probes, r.inode]),
    [
      ['127.0.0.1:8080', '127.0.0.1:41668', 1, 0x260000, 0, 4, 0, 3, 4242],
      ['127.0.0.1:41668', '127.0.0.1:8080', 1, 0, 0x180000, 0, 2, 0, 4243],
    ],
  );
});

let ta: TestAgent;
t.before(async () => {
  ta = await startTestAgent({ probeConfig: { tcpFlushNs: 200_000_000n } });
});
t.teardown(() => ta.stop());

/** A receiver on 127.0.0.1:port that never reads and a sender blocked writing to it. */
async function stuckPair(t: Test, port: number): Promise<{ receiver: ChildProcess; sender: ChildProcess }> {
  const receiver = spawn(await helperPath('tcp-hold'), [String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void receiver.kill('SIGKILL'));
  await waitForLine(receiver, /listening/, 'tcp-hold');
  const sender = spawn(await helperPath('tcp-flood'), ['127.0.0.1', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void sender.kill('SIGKILL'));
  await waitForLine(sender, /connected/, 'tcp-flood');
  // until the receive and send buffers are full and the sender sleeps in write()
  for (let i = 0; i < 50 && !tcpSendBlock(sender.pid!)?.inSend; i++) await sleep(100);
  return { receiver, sender };
}

t.test('a receiver that never reads: network_peer_slow naming the peer and the receiver', async (t) => {
  const port = 5031;
  const { receiver, sender } = await stuckPair(t, port);
  const b = tcpSendBlock(sender.pid!);
  t.ok(b, 'the sender is held up by its peer in /proc');
  t.equal(b?.inSend?.syscall, 'write', 'sleeping in write()');
  t.equal(b?.socket.retransmits, 0, 'nothing retransmitted');
  t.ok((b?.peerSocket?.rxQueue ?? 0) > 0, `the peer has ${b?.peerSocket?.rxQueue} bytes unread`);
  t.same(
    b?.peerOwners.map((o) => o.pid),
    [receiver.pid],
  );
  const { code, answer } = await ta.why(sender.pid!);
  t.equal(code, 0, 'exit 0: cause found');
  t.equal(answer.scene, 'network_peer_slow', answer.summary);
  t.equal(answer.culprit.label, `tcp-hold (${receiver.pid})`, 'the receiver is the culprit');
  t.match(answer.summary, `127.0.0.1:${port}`, 'names the peer address:port');
  t.match(answer.summary, `(${receiver.pid}) does not read`);
  t.match(answer.summary, /nothing lost/);
  t.equal(answer.chain[0].edge, 'waits_on');
  t.match(answer.chain[0].evidence.text, /blocked in write\(\) with \d+ bytes queued to 127\.0\.0\.1:5031.*none retransmitted/);
  t.match(answer.chain[0].evidence.text, /bytes unread/);
  t.equal(answer.findings[0].verify.metric, 'tcp.send_blocked');
});

t.test('the receiver is stopped: the chain follows it (multi-hop) and names who stopped it', async (t) => {
  const port = 5032;
  const { receiver, sender } = await stuckPair(t, port);
  process.kill(receiver.pid!, 'SIGSTOP');
  t.teardown(() => void receiver.kill('SIGCONT'));
  await sleep(300);
  const { code, answer } = await ta.why(sender.pid!);
  t.equal(code, 0);
  const scenes = answer.findings.map((f: { scene: string }) => f.scene);
  t.ok(scenes.includes('network_peer_slow'), `peer_slow among ${scenes.join(', ')}`);
  const deep = answer.findings.find((f: { scene: string }) => f.scene === 'process_blocked');
  t.ok(deep, "the receiver's own cause is found through the sender");
  t.equal(deep.culprit.label, `tcp-hold (${receiver.pid})`);
  t.equal(deep.chain[0].from.label, `tcp-flood (${sender.pid})`, 'the chain starts at the sender');
  t.match(deep.summary, /stopped/);
});

t.test('the receiver in another network namespace of this host is found and named', async (t) => {
  const port = 5034;
  const link = await lossyLink({ lossProbability: 0, port });
  t.teardown(() => link.cleanup());
  const receiver = link.spawnIn(link.nsB, await helperPath('tcp-hold'), [String(port), link.addrB], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void receiver.kill('SIGKILL'));
  await waitForLine(receiver, /listening/, 'tcp-hold');
  const sender = link.spawnIn(link.nsA, await helperPath('tcp-flood'), [link.addrB, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void sender.kill('SIGKILL'));
  await waitForLine(sender, /connected/, 'tcp-flood');
  for (let i = 0; i < 50 && !tcpSendBlock(sender.pid!)?.inSend; i++) await sleep(100);
  t.same(
    tcpSendBlock(sender.pid!)?.peerOwners.map((o) => o.pid),
    [receiver.pid],
    'found across namespaces',
  );
  const { code, answer } = await ta.why(sender.pid!);
  t.equal(code, 0);
  t.equal(answer.scene, 'network_peer_slow', answer.summary);
  t.equal(answer.culprit.label, `tcp-hold (${receiver.pid})`);
  t.match(answer.summary, `${link.addrB}:${port}`);
});

t.test('a lossy path with a reading peer is network_stall, never network_peer_slow', async (t) => {
  const port = 5033;
  const link = await lossyLink({ lossProbability: 0.2, port });
  t.teardown(() => link.cleanup());
  const sink = link.spawnIn(link.nsB, process.execPath, [faultProgram('tcp-sink.js'), link.addrB, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void sink.kill('SIGKILL'));
  await waitForLine(sink, /listening/, 'sink');
  const sender = link.spawnIn(link.nsA, process.execPath, [faultProgram('tcp-sender.js'), link.addrB, String(port), '8'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void sender.kill('SIGKILL'));
  const m = await waitForLine(sender, /pid (\d+)/, 'sender');
  await sleep(3000);
  const { code, answer } = await ta.why(Number(m[1]));
  t.equal(code, 0);
  t.equal(answer.scene, 'network_stall', answer.summary);
  t.notOk(
    answer.findings.some((f: { scene: string }) => f.scene === 'network_peer_slow'),
    'no slow-peer finding while segments are lost',
  );
});
