// A hostile client of the agent's socket, run as its own process (and uid) by test/hostile-agent.test.ts:
//   flood SOCKET N METHOD ARGS_JSON  writes N pipelined requests on one connection and never reads
//   hold SOCKET N                    opens N connections and keeps them; reports each one's fate
//   call SOCKET PID METHOD ARGS_JSON  one call; reports the reply
//   calls SOCKET N METHOD ARGS_JSON   N calls one after the other (PID: the ARGS' pid, default 0); reports
//                                     the count per reply code and the first reply of each code
// Prints one JSON line when it has done its part, then stays until killed.
import * as net from 'node:net';
import { FrameDecoder } from '../../src/ipc/framing';
import { PROTOCOL_VERSION, decodeResponse, encodeRequestFrame } from '../../src/ipc/protocol';
import { callAgent } from '../../src/ipc/client';

const [mode, socketPath, nText, method, argsJson] = process.argv.slice(2);
const n = Number(nText);

function report(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

if (mode === 'flood') {
  const s = net.createConnection(socketPath!);
  s.on('error', () => {});
  s.on('connect', () => {
    s.pause(); // never read a reply
    const frames: Buffer[] = [];
    for (let i = 1; i <= n; i++)
      frames.push(encodeRequestFrame({ id: i, version: PROTOCOL_VERSION, method: method!, pid: 0, args: JSON.parse(argsJson ?? '{}') }));
    s.write(Buffer.concat(frames), () => report({ written: n }));
  });
  s.on('close', () => report({ closed: true }));
} else if (mode === 'hold') {
  const fates: string[] = new Array(n).fill('');
  let settled = 0;
  const settle = (i: number, fate: string) => {
    if (fates[i]) return;
    fates[i] = fate;
    if (++settled === n) {
      const held = fates.filter((f) => f === 'held').length;
      report({ held, refused: fates.filter((f) => f !== 'held') });
    }
  };
  for (let i = 0; i < n; i++) {
    const s = net.createConnection(socketPath!);
    const decoder = new FrameDecoder();
    s.on('error', (e) => settle(i, `error: ${e.message}`));
    s.on('data', (chunk: Buffer) => {
      for (const p of decoder.push(chunk)) {
        const r = decodeResponse(p);
        settle(i, r.ok ? 'held' : `${r.code}: ${r.error}`);
      }
    });
    // a connection is held once a real request was answered on it
    s.on('connect', () => s.write(encodeRequestFrame({ id: 1, version: PROTOCOL_VERSION, method: 'ps', pid: 0, args: { limit: '1' } })));
  }
}
if (mode === 'call')
  callAgent(socketPath!, { method: method!, pid: n, args: JSON.parse(argsJson ?? '{}') }, { timeoutMs: 10_000 }).then(report, (e) =>
    report({ thrown: String(e) }),
  );
if (mode === 'calls') {
  const { pid = 0, ...args } = JSON.parse(argsJson ?? '{}');
  const counts: Record<string, number> = {};
  const first: Record<string, unknown> = {};
  (async () => {
    for (let i = 0; i < n; i++) {
      const r = await callAgent(socketPath!, { method: method!, pid: Number(pid), args }, { timeoutMs: 10_000 });
      const code = r.ok ? 'OK' : String(r.code);
      counts[code] = (counts[code] ?? 0) + 1;
      first[code] ??= r.ok ? { saved: (r.body as { saved?: boolean }).saved } : r.error;
    }
    report({ counts, first });
  })().catch((e) => report({ thrown: String(e) }));
}
// stays until killed, or until the test that started it is gone (a killed runner runs no teardown)
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500);
