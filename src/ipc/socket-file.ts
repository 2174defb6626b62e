// Taking the socket path for a new agent: create its directory, replace a
// stale socket left by a dead agent, but never a live agent's socket and never
// a file that is not a socket.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { callAgent } from './client';
import { AgentAlreadyRunningError, SocketPathOccupiedError } from './errors';

const PROBE_TIMEOUT_MS = 1000;

type ProbeResult = 'live' | 'stale' | 'gone';

/** Connects once: a listener answers -> live; ECONNREFUSED (nobody behind the file) -> stale. */
function probeSocket(socketPath: string): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const done = (result: ProbeResult | Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    // a listener that never accepts still holds the path
    const timer = setTimeout(() => done('live'), PROBE_TIMEOUT_MS);
    socket.on('connect', () => done('live'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done('stale');
      else if (err.code === 'ENOENT') done('gone');
      else if (err.code === 'EAGAIN')
        done('live'); // listen backlog full: busy, not dead
      else done(new Error(`cannot check whether an agent is listening on ${socketPath}: ${err.message}`));
    });
  });
}

/** Best effort: the running agent's pid from its 'status' method, for the error message. */
async function runningAgentPid(socketPath: string): Promise<number | undefined> {
  try {
    const reply = await callAgent(socketPath, { method: 'status' }, { timeoutMs: PROBE_TIMEOUT_MS });
    const pid = reply.ok && typeof reply.body === 'object' && reply.body !== null ? (reply.body as { pid?: unknown }).pid : undefined;
    return typeof pid === 'number' ? pid : undefined;
  } catch {
    return undefined;
  }
}

function describe(st: fs.Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  return 'a special file';
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Leaves socketPath free to listen on, or throws AgentAlreadyRunningError / SocketPathOccupiedError. */
export async function claimSocketPath(socketPath: string, logger: Logger): Promise<void> {
  const dir = path.dirname(socketPath);
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fs.chmodSync(dir, 0o755); // mkdir's mode is filtered by the umask
  }
  const st = lstatOrUndefined(socketPath);
  if (!st) return;
  if (!st.isSocket()) throw new SocketPathOccupiedError(socketPath, describe(st));
  const probe = await probeSocket(socketPath);
  if (probe === 'live') throw new AgentAlreadyRunningError(socketPath, await runningAgentPid(socketPath));
  if (probe === 'gone') return;
  // only unlink the very socket we probed (another agent may have just replaced it)
  const now = lstatOrUndefined(socketPath);
  if (!now) return;
  if (now.ino !== st.ino || now.dev !== st.dev) return claimSocketPath(socketPath, logger);
  fs.unlinkSync(socketPath);
  logger.info({ socketPath }, 'removed a stale agent socket (nobody was listening on it)');
}
