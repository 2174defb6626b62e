// The agent's socket server and the CLI client over real Unix sockets: normal
// calls, pipelining, hostile or broken clients (each must only hurt its own
// connection), socket-file takeover rules, and the client's error messages.
import t, { type Test } from 'tap';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { callAgent } from '../src/ipc/client';
import { asNobody } from './helpers/nobody';
import { AgentAlreadyRunningError, AgentUnavailableError, IpcError, SocketPathOccupiedError } from '../src/ipc/errors';
import { FrameDecoder } from '../src/ipc/framing';
import { createLogger } from '../src/log';
import {
  type IpcRequest,
  type IpcResponse,
  PROTOCOL_VERSION,
  decodeRequest,
  decodeResponse,
  encodeRequestFrame,
} from '../src/ipc/protocol';
import { type IpcHandler, type IpcServer, type IpcServerOptions, startIpcServer } from '../src/ipc/server';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-ipc-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
let socketCount = 0;
const freshSocketPath = () => path.join(tmp, `agent-${++socketCount}.sock`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type LogRecord = { level: number; msg: string; [k: string]: unknown };

const handler: IpcHandler = async (req, peer) => {
  switch (req.method) {
    case 'echo':
      return { id: req.id, pid: req.pid, args: req.args, peer: peer ?? null };
    case 'sleep':
      await sleep(Number(req.args.ms));
      return { slept: Number(req.args.ms) };
    case 'status':
      return { pid: 4242 };
    case 'boom':
      throw new Error('kaboom');
    case 'missing':
      throw new IpcError('NOT_FOUND', `no process ${req.pid}`);
    case 'bigint':
      return { n: 1n };
    case 'hang':
      return new Promise(() => {});
    default:
      throw new IpcError('UNKNOWN_METHOD', `unknown method '${req.method}'`);
  }
};

async function startServer(t: Test, opts: Partial<IpcServerOptions> = {}): Promise<{ server: IpcServer; logs: LogRecord[] }> {
  const logs: LogRecord[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void logs.push(JSON.parse(s)) } });
  const server = await startIpcServer({ socketPath: freshSocketPath(), handler, logger, ...opts });
  t.teardown(() => server.close());
  return { server, logs };
}

/** A client that speaks raw frames, so tests can send anything. */
class RawClient {
  readonly responses: IpcResponse[] = [];
  closed = false;
  bytesWritten = 0;
  private readonly waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    const decoder = new FrameDecoder({ maxFrameBytes: 64 << 20 });
    socket.on('data', (chunk: Buffer) => {
      for (const p of decoder.push(chunk)) this.responses.push(decodeResponse(p));
      this.wake();
    });
    socket.on('error', () => {}); // EPIPE/ECONNRESET once the server has hung up is expected
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(socketPath: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(socketPath);
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
    });
  }

  write(bytes: Buffer): void {
    this.bytesWritten += bytes.length;
    this.socket.write(bytes);
  }

  request(r: Partial<IpcRequest>): void {
    this.write(encodeRequestFrame({ id: 1, version: PROTOCOL_VERSION, method: 'echo', pid: 0, args: {}, ...r }));
  }

  async next(timeoutMs = 3000): Promise<IpcResponse> {
    const deadline = Date.now() + timeoutMs;
    while (this.responses.length === 0) {
      if (this.closed) throw new Error('connection closed without a response');
      if (Date.now() > deadline) throw new Error('no response in time');
      await this.waitEvent(deadline - Date.now());
    }
    return this.responses.shift()!;
  }

  /** true when the server closed the connection within timeoutMs */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await this.waitEvent(deadline - Date.now());
    return this.closed;
  }

  private waitEvent(ms: number): Promise<void> {
    return new Promise((r) => {
      this.waiters.push(r);
      setTimeout(r, Math.max(ms, 1));
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

const varint = (n: number) => Buffer.from(protobuf.Writer.create().uint32(n).finish());

t.test('a call round-trips with its id, pid, args and JSON body', async (t) => {
  const { server } = await startServer(t);
  const reply = await callAgent(server.address, { method: 'echo', pid: 1234, args: { window: '30s' } });
  t.equal(reply.ok, true);
  t.equal(reply.code, 'OK');
  t.equal(reply.error, '');
  t.match(reply.body, { pid: 1234, args: { window: '30s' }, peer: null });

  const raw = await RawClient.connect(server.address);
  raw.request({ id: 777, method: 'echo', pid: 9 });
  const res = await raw.next();
  t.equal(res.id, 777, 'the response carries the request id');
  t.equal(res.version, PROTOCOL_VERSION);
  t.same(JSON.parse(res.body), { id: 777, pid: 9, args: {}, peer: null });
  raw.socket.destroy();
});

t.test('pipelined requests on one connection are all answered, each with its id', async (t) => {
  const { server } = await startServer(t);
  const raw = await RawClient.connect(server.address);
  // three frames in one write: the slow one first
  raw.write(
    Buffer.concat([
      encodeRequestFrame({ id: 11, version: 1, method: 'sleep', pid: 0, args: { ms: '150' } }),
      encodeRequestFrame({ id: 12, version: 1, method: 'sleep', pid: 0, args: { ms: '20' } }),
      encodeRequestFrame({ id: 13, version: 1, method: 'echo', pid: 5, args: {} }),
    ]),
  );
  const got = [await raw.next(), await raw.next(), await raw.next()];
  t.same(
    got.map((r) => r.id),
    [13, 12, 11],
    'answered in order of completion',
  );
  t.same(
    got.map((r) => JSON.parse(r.body)),
    [{ id: 13, pid: 5, args: {}, peer: null }, { slept: 20 }, { slept: 150 }],
  );
  raw.socket.destroy();
});

t.test('a frame sent one byte at a time, and two frames in one chunk', async (t) => {
  const { server } = await startServer(t);
  const raw = await RawClient.connect(server.address);
  const frame = encodeRequestFrame({ id: 21, version: 1, method: 'echo', pid: 3, args: { k: 'v' } });
  raw.socket.setNoDelay?.(true);
  for (const byte of frame) {
    raw.write(Buffer.from([byte]));
    await sleep(2); // separate reads on the server side
  }
  const res = await raw.next();
  t.equal(res.id, 21);
  t.same(JSON.parse(res.body), { id: 21, pid: 3, args: { k: 'v' }, peer: null });

  raw.write(
    Buffer.concat([
      encodeRequestFrame({ id: 22, version: 1, method: 'echo', pid: 0, args: {} }),
      encodeRequestFrame({ id: 23, version: 1, method: 'echo', pid: 0, args: {} }),
    ]),
  );
  const both = [await raw.next(), await raw.next()].map((r) => r.id).sort();
  t.same(both, [22, 23]);
  raw.socket.destroy();
});

t.test('a garbage frame closes only its own connection; another client keeps working', async (t) => {
  const { server, logs } = await startServer(t);
  const good = await RawClient.connect(server.address);
  good.request({ id: 1 });
  t.equal((await good.next()).ok, true, 'before');

  let garbage: Buffer;
  do garbage = randomBytes(64);
  while (decodes(garbage));
  const bad = await RawClient.connect(server.address);
  bad.write(Buffer.concat([varint(garbage.length), garbage]));
  const res = await bad.next();
  t.equal(res.ok, false);
  t.equal(res.code, 'MALFORMED_FRAME');
  t.equal(res.id, 0);
  t.match(res.error, /^cannot decode request: \S/);
  t.equal(await bad.waitClosed(), true, 'the bad connection is closed');

  good.request({ id: 2, pid: 8 });
  const after = await good.next();
  t.equal(after.id, 2, 'after, on the same connection');
  t.same(JSON.parse(after.body), { id: 2, pid: 8, args: {}, peer: null });
  t.equal((await callAgent(server.address, { method: 'echo' })).ok, true, 'new connections work too');
  t.ok(
    logs.some((l) => l.level === 40 && l.code === 'MALFORMED_FRAME' && /cannot decode request/.test(l.msg)),
    'logged at warn with the reason',
  );
  good.socket.destroy();
});

function decodes(bytes: Buffer): boolean {
  try {
    decodeRequest(bytes);
    return true;
  } catch {
    return false;
  }
}

t.test('a 50 MiB length prefix is refused at once, without waiting for (or buffering) the body', async (t) => {
  const { server, logs } = await startServer(t);
  const other = await RawClient.connect(server.address);
  const big = await RawClient.connect(server.address);
  big.write(Buffer.concat([varint(50 * 1024 * 1024), Buffer.alloc(1000, 0x41)]));
  const res = await big.next();
  t.equal(res.code, 'FRAME_TOO_LARGE');
  t.equal(res.error, 'frame of 52428800 bytes exceeds the 1048576-byte limit');
  t.equal(await big.waitClosed(), true, 'connection closed');
  t.ok(big.bytesWritten < 2000, `answered after only ${big.bytesWritten} bytes of the announced 50 MiB`);
  t.ok(logs.some((l) => l.level === 40 && l.code === 'FRAME_TOO_LARGE'));
  other.request({ id: 5 });
  t.equal((await other.next()).id, 5, 'the other client is unaffected');
  other.socket.destroy();
});

t.test('clients vanishing mid-frame or mid-request leave the server healthy', async (t) => {
  const { server, logs } = await startServer(t);
  const truncated = await RawClient.connect(server.address);
  truncated.write(Buffer.concat([varint(100), Buffer.alloc(10)]));
  await sleep(20);
  truncated.socket.destroy();

  const impatient = await RawClient.connect(server.address);
  impatient.request({ id: 3, method: 'sleep', args: { ms: '50' } });
  await sleep(10);
  impatient.socket.destroy(); // the reply will have nowhere to go

  await sleep(100);
  const reply = await callAgent(server.address, { method: 'echo', pid: 1 });
  t.equal(reply.ok, true);
  t.match(reply.body, { pid: 1 });
  t.same(
    logs.filter((l) => l.level >= 50),
    [],
    'nothing logged at error',
  );
});

t.test('a wrong protocol version gets UNSUPPORTED_VERSION and the connection stays usable', async (t) => {
  const { server } = await startServer(t);
  const raw = await RawClient.connect(server.address);
  raw.request({ id: 31, version: 2 });
  const res = await raw.next();
  t.equal(res.id, 31);
  t.equal(res.ok, false);
  t.equal(res.code, 'UNSUPPORTED_VERSION');
  t.match(res.error, /protocol version 2 is not supported; this agent speaks version 1/);
  raw.request({ id: 32, version: 1 });
  const ok = await raw.next();
  t.equal(ok.id, 32);
  t.equal(ok.ok, true);
  t.equal(raw.closed, false);
  raw.socket.destroy();
});

t.test('handler errors: IpcError keeps its code, anything else is INTERNAL and logged with its stack', async (t) => {
  const { server, logs } = await startServer(t);
  const boom = await callAgent(server.address, { method: 'boom' });
  t.same(boom, { ok: false, code: 'INTERNAL', error: 'kaboom', body: undefined });
  const logged = logs.find((l) => l.level === 50);
  t.match(logged, { method: 'boom', err: { message: 'kaboom', stack: /Error: kaboom\n\s+at / } });

  t.same(await callAgent(server.address, { method: 'missing', pid: 99 }), {
    ok: false,
    code: 'NOT_FOUND',
    error: 'no process 99',
    body: undefined,
  });
  t.same(await callAgent(server.address, { method: 'nope' }), {
    ok: false,
    code: 'UNKNOWN_METHOD',
    error: "unknown method 'nope'",
    body: undefined,
  });
  const big = await callAgent(server.address, { method: 'bigint' });
  t.equal(big.code, 'INTERNAL');
  t.match(big.error, /^cannot serialise the result of 'bigint' as JSON/);
  const empty = await callAgent(server.address, { method: '' });
  t.same(empty, { ok: false, code: 'BAD_REQUEST', error: 'the request names no method', body: undefined });
});

t.test('a handler slower than requestTimeoutMs gets UNAVAILABLE', async (t) => {
  const { server } = await startServer(t, { requestTimeoutMs: 100 });
  const reply = await callAgent(server.address, { method: 'hang' });
  t.same(reply, { ok: false, code: 'UNAVAILABLE', error: "'hang' did not finish within 100 ms", body: undefined });
});

t.test('peer credentials come from getPeerCred(fd), else undefined', async (t) => {
  const fds: number[] = [];
  const { server } = await startServer(t, {
    getPeerCred: (fd) => {
      fds.push(fd);
      return { pid: 101, uid: 1000, gid: 1001 };
    },
  });
  const reply = await callAgent(server.address, { method: 'echo' });
  t.match(reply.body, { peer: { pid: 101, uid: 1000, gid: 1001 } });
  t.equal(fds.length, 1);
  t.ok(Number.isInteger(fds[0]) && fds[0]! > 2, `a real fd (${fds[0]})`);

  const failing = await startServer(t, {
    getPeerCred: () => {
      throw new Error('no SO_PEERCRED');
    },
  });
  t.match((await callAgent(failing.server.address, { method: 'echo' })).body, { peer: null });
  t.ok(failing.logs.some((l) => l.level === 40 && l.err === 'no SO_PEERCRED'));
});

t.test('socket file is 0660 and a missing directory is created 0755', async (t) => {
  const socketPath = path.join(tmp, 'newdir', 'xctl.sock');
  const { server } = await startServer(t, { socketPath });
  t.equal(fs.statSync(socketPath).mode & 0o777, 0o660);
  t.ok(fs.statSync(socketPath).isSocket());
  t.equal(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o755);
  const raw = await RawClient.connect(socketPath);
  await server.close();
  t.equal(fs.existsSync(socketPath), false, 'close() removes the socket file');
  t.equal(await raw.waitClosed(), true, 'close() drops open connections');
});

function staleSocket(socketPath: string): Promise<void> {
  // a listener killed with SIGKILL leaves its socket file behind
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`],
      {
        env: { PATH: process.env.PATH ?? '' },
      },
    );
    child.stdout.once('data', () => child.kill('SIGKILL'));
    child.on('exit', () => (fs.existsSync(socketPath) ? resolve() : reject(new Error('no stale socket left'))));
  });
}

t.test('a stale socket (dead listener) is replaced', async (t) => {
  const socketPath = freshSocketPath();
  await staleSocket(socketPath);
  t.ok(fs.lstatSync(socketPath).isSocket(), 'stale socket file present');
  const refused = await callAgent(socketPath, { method: 'echo' }).catch((e: Error) => e);
  t.equal((refused as Error).message, `no xctl agent is running (socket ${socketPath} refused); start one with: sudo xctl agent`);

  const { server, logs } = await startServer(t, { socketPath });
  t.equal((await callAgent(socketPath, { method: 'echo' })).ok, true, 'the new agent answers');
  t.ok(logs.some((l) => /removed a stale agent socket/.test(l.msg)));
  t.equal(server.address, socketPath);
});

t.test('a live agent on the path is not displaced', async (t) => {
  const { server: first } = await startServer(t);
  const err = await startServer(t, { socketPath: first.address }).catch((e: Error) => e);
  t.type(err, AgentAlreadyRunningError);
  t.equal((err as Error).message, `an xctl agent is already listening on ${first.address} (pid 4242)`, 'pid from its status method');
  t.equal((await callAgent(first.address, { method: 'echo' })).ok, true, 'the first agent still answers');

  // an agent without a status method: no pid in the message
  const live = net.createServer().listen(path.join(tmp, 'silent.sock'));
  await new Promise((r) => live.once('listening', r));
  t.teardown(() => live.close());
  const err2 = await startServer(t, { socketPath: path.join(tmp, 'silent.sock') }).catch((e: Error) => e);
  t.equal((err2 as Error).message, `an xctl agent is already listening on ${path.join(tmp, 'silent.sock')}`);
});

t.test('a regular file at the socket path is left alone, with a clear error', async (t) => {
  const socketPath = freshSocketPath();
  fs.writeFileSync(socketPath, 'precious');
  const err = await startServer(t, { socketPath }).catch((e: Error) => e);
  t.type(err, SocketPathOccupiedError);
  t.equal(
    (err as Error).message,
    `refusing to replace ${socketPath}: it is a regular file, not a socket; move it away or choose another socket path`,
  );
  t.equal(fs.readFileSync(socketPath, 'utf8'), 'precious');
});

t.test('client errors say what to do', async (t) => {
  const missing = path.join(tmp, 'nobody-here.sock');
  const err = await callAgent(missing, { method: 'status' }).catch((e: Error) => e);
  t.type(err, AgentUnavailableError);
  t.equal((err as Error).message, `no xctl agent is running (socket ${missing} not found); start one with: sudo xctl agent`);

  await t.rejects(callAgent(missing, { method: 'x', pid: -1 }), { name: 'TypeError', message: /pid must be an integer/ });

  const { server } = await startServer(t);
  const start = Date.now();
  await t.rejects(callAgent(server.address, { method: 'hang' }), {
    name: 'AgentUnavailableError',
    message: 'the agent did not answer within 5 s',
  });
  t.ok(Date.now() - start >= 4900, 'default timeout is 5 s');
  await t.rejects(callAgent(server.address, { method: 'hang' }, { timeoutMs: 200 }), { message: 'the agent did not answer within 0.2 s' });
});

t.test('a client without permission on the socket is told so', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-ipc-perm-'));
  fs.chmodSync(dir, 0o755);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { server } = await startServer(t, { socketPath: path.join(dir, 'xctl.sock') });
  const script = `require(${JSON.stringify(path.resolve(__dirname, '../src/ipc/client.js'))}).callAgent(${JSON.stringify(server.address)}, { method: 'status' }).then(() => console.log('connected'), (e) => console.log(e.message))`;
  const out = await new Promise<string>((resolve) =>
    execFile(
      ...asNobody([process.execPath, '-e', script], process.env.PATH ?? '/usr/bin:/bin'),
      { timeout: 20_000 },
      (_err, stdout, stderr) => resolve(stdout + stderr),
    ),
  );
  t.equal(out.trim(), `permission denied on ${server.address}: run as root or a member of the socket's group`);
});

t.test('slow-loris: an incomplete frame older than the limit closes the connection, even while bytes trickle in', async (t) => {
  const { server, logs } = await startServer(t, { frameTimeoutMs: 200 });
  const slow = await RawClient.connect(server.address);
  const start = Date.now();
  slow.write(varint(100));
  let sent = 0;
  while (!slow.closed && sent < 60) {
    slow.write(Buffer.from([0]));
    sent++;
    await sleep(50);
  }
  const elapsed = Date.now() - start;
  t.equal(slow.closed, true, `closed after ${elapsed} ms with ${sent} body bytes sent`);
  t.ok(elapsed >= 190 && elapsed < 1500, `closed near the 200 ms limit (${elapsed} ms)`);
  t.ok(logs.some((l) => l.level === 40 && /frame incomplete for more than 200 ms/.test(l.msg)));
  t.equal((await callAgent(server.address, { method: 'echo' })).ok, true, 'others are served');
});

t.test('idle connections are closed, busy ones are not', async (t) => {
  const { server } = await startServer(t, { idleTimeoutMs: 200 });
  const idle = await RawClient.connect(server.address);
  t.equal(await idle.waitClosed(2000), true, 'a silent connection is closed');

  const busy = await RawClient.connect(server.address);
  busy.request({ id: 41, method: 'sleep', args: { ms: '400' } });
  const res = await busy.next();
  t.same([res.id, res.ok], [41, true], 'a request longer than the idle limit is still answered');
});

t.test('connections above maxConnections are refused with UNAVAILABLE; the slot frees on close', async (t) => {
  const { server } = await startServer(t, { maxConnections: 2 });
  const a = await RawClient.connect(server.address);
  const b = await RawClient.connect(server.address);
  a.request({ id: 1 });
  b.request({ id: 1 });
  await a.next();
  await b.next();
  const refused = await callAgent(server.address, { method: 'echo' });
  t.same(refused, { ok: false, code: 'UNAVAILABLE', error: 'the agent is already serving 2 connections; try again', body: undefined });
  a.socket.destroy();
  await sleep(50);
  t.equal((await callAgent(server.address, { method: 'echo' })).ok, true);
  b.socket.destroy();
});

t.test('a client that does not read replies stalls only itself; the server stops reading it', async (t) => {
  let calls = 0;
  const counting: IpcHandler = async (req, peer) => {
    calls++;
    return handler(req, peer);
  };
  const { server } = await startServer(t, { handler: counting, maxInFlightPerConnection: 4 });
  const raw = await RawClient.connect(server.address);
  raw.socket.pause(); // read nothing for now
  const total = 5000;
  const frame = encodeRequestFrame({ id: 1, version: 1, method: 'echo', pid: 0, args: { pad: 'x'.repeat(1000) } });
  for (let i = 0; i < total; i++) raw.socket.write(frame);
  await sleep(400);
  const stalledAt = calls;
  await sleep(300);
  t.equal(calls, stalledAt, `the server stopped after ${stalledAt} of ${total} requests`);
  t.ok(stalledAt < total);
  t.ok(raw.socket.writableLength > 0, 'the rest waits on the client side, not in the server');
  t.equal((await callAgent(server.address, { method: 'echo' })).ok, true, 'others are served meanwhile');

  raw.socket.resume();
  const deadline = Date.now() + 20_000;
  while (raw.responses.length < total && Date.now() < deadline) await sleep(20);
  t.equal(raw.responses.length, total, 'once the client reads, every request is answered');
  raw.socket.destroy();
});
