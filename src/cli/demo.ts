/**
 * `xctl demo`: the quick-start main job. Starts the agent (probes -> causal
 * graph -> rules, on a private socket), injects a real fault — 20 % packet
 * loss on a veth pair between two private network namespaces — runs a TCP
 * transfer through it, streams the retransmit events attributed to the
 * sending process (not to whatever ran the softirq), and ends with the
 * agent's answer to `xctl why <sender pid>`, asked over the Unix socket.
 */
import { waitForLine } from '../faults/child-output';
import { parseArgs } from 'node:util';
import { LiveSource } from '../sources/live';
import { lossyLink } from '../faults/netns';
import { faultProgram } from '../faults/programs';
import { toEvent, formatText } from '../kinds/format';
import type { TcpRetransmitEvent } from '../kinds/tcp-retransmit';
import { Kind } from '../events/layout';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { Agent } from '../agent/agent';
import { defaultRulesDir } from '../rules';
import { callAgent } from '../ipc/client';
import { renderWhy } from './render';
import type { WhyAnswer } from '../engine/answer';

export const DEMO_HELP = `usage: xctl demo [--loss P] [--seconds S] [--json]
  --loss P      fraction of packets dropped on the lossy link (default 0.2)
  --seconds S   length of the transfer (default 3)
  --json        print the attributed events as JSON lines`;

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { loss: { type: 'string' }, seconds: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${DEMO_HELP}\n`);
    return 0;
  }
  const loss = Number(values.loss ?? '0.2');
  const seconds = Number(values.seconds ?? '3');
  const port = 5001;
  const say = (s: string) => process.stderr.write(`xctl demo: ${s}\n`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-demo-'));
  const socket = path.join(dir, 'xctl.sock');
  const agent = await Agent.start({
    socketPath: socket,
    rulesDir: defaultRulesDir(),
    metricsAddr: 'off',
    families: ['net', 'io', 'proc', 'sched'],
    logger: pino({ level: 'warn' }, pino.destination({ dest: path.join(dir, 'agent.log'), sync: true })),
  });
  say(`agent started (socket ${socket}; log ${path.join(dir, 'agent.log')})`);
  const source = new LiveSource({ families: ['net', 'proc'], config: { tcpFlushNs: 500_000_000n } });
  let senderPid = 0;
  const seen: TcpRetransmitEvent[] = [];
  const others = new Map<string, number>(); // retransmits by (pid comm) that are not the demo's
  source.start((batch) => {
    for (let i = 0; i < batch.count; i++) {
      if (batch.kind(i) !== Kind.TCP_RETRANSMIT) continue;
      const ev = toEvent(batch, i, source.clock) as TcpRetransmitEvent;
      if (ev.dport !== port) {
        others.set(`${ev.pid} ${ev.comm}`, (others.get(`${ev.pid} ${ev.comm}`) ?? 0) + ev.count);
        continue;
      }
      seen.push(ev);
      process.stdout.write(`${values.json ? JSON.stringify(ev) : formatText(ev)}\n`);
    }
  });
  say(`probes attached (net, proc); creating two network namespaces with ${Math.round(loss * 100)} % packet loss between them`);
  const link = await lossyLink({ lossProbability: loss, port });
  try {
    const sink = link.spawnIn(link.nsB, process.execPath, [faultProgram('tcp-sink.js'), link.addrB, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await waitForLine(sink, /listening/, 'tcp sink');
    const sender = link.spawnIn(link.nsA, process.execPath, [faultProgram('tcp-sender.js'), link.addrB, String(port), String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const done = new Promise<void>((r) => sender.once('exit', () => r()));
    const m = await waitForLine(sender, /pid (\d+) sport (\d+)/, 'tcp sender');
    senderPid = Number(m[1]);
    say(
      `sender pid ${senderPid} (netns ${link.nsA}) -> ${link.addrB}:${port} (netns ${link.nsB}) for ${seconds} s; retransmits as they happen:`,
    );
    await done;
    // The closed socket may still retransmit its FIN for a moment: compare our
    // count with the kernel's once both have settled (flushes every 500 ms).
    let retransSegs = 0;
    let segs = -1;
    for (let tries = 0; tries < 12 && segs !== retransSegs; tries++) {
      await new Promise((r) => setTimeout(r, 600));
      source.drain();
      retransSegs = await link.snmpRetransSegs(link.nsA);
      segs = seen.reduce((s, e) => s + e.segs, 0);
    }
    sink.kill('SIGTERM');
    const attributed = seen.filter((e) => e.pid === senderPid).length;
    say(
      `${seen.length} retransmit records (${segs} segments), ${attributed} attributed to the sender pid ${senderPid}; ` +
        `the kernel's own counter in the sender's namespace says RetransSegs = ${retransSegs}`,
    );
    if (others.size) say(`other retransmits on this host during the demo: ${[...others].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    say(`asking the agent: xctl why ${senderPid} --socket ${socket}`);
    const reply = await callAgent(socket, { method: 'why', pid: senderPid }, { timeoutMs: 10_000 });
    if (!reply.ok) {
      say(`why failed: ${reply.error}`);
      return 2;
    }
    const answer = reply.body as WhyAnswer;
    process.stdout.write(`${values.json ? JSON.stringify(answer) : renderWhy(answer)}\n`);
    return seen.length > 0 && attributed === seen.length && answer.scene === 'network_stall' ? 0 : 1;
  } finally {
    source.stop();
    await agent.stop();
    await link.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
