// The CLI side: one request per connection to the agent's Unix socket.
import * as net from 'node:net';
import { AgentUnavailableError, type ErrorCodeName, IpcError } from './errors';
import { FrameDecoder } from './framing';
import { CONNECTION_ERROR_ID, PROTOCOL_VERSION, decodeResponse, encodeRequestFrame } from './protocol';

export { DEFAULT_SOCKET_PATH, defaultSocketPath, resolveSocketPath } from './socket-path';

export interface AgentCall {
  method: string;
  pid?: number;
  args?: Record<string, string>;
}

export interface AgentReply {
  ok: boolean;
  code: ErrorCodeName;
  /** '' when ok */
  error: string;
  /** the method's result, parsed from the response's JSON body (undefined when there is none) */
  body: unknown;
}

export interface CallOptions {
  timeoutMs?: number;
  /** responses (reports) may be larger than requests */
  maxFrameBytes?: number;
}

const DEFAULT_RESPONSE_MAX_BYTES = 64 * 1024 * 1024;

let lastRequestId = 0;
function nextRequestId(): number {
  // 0 is reserved for connection-level errors from the agent
  lastRequestId = (lastRequestId % 0xffffffff) + 1;
  return lastRequestId;
}

function connectError(socketPath: string, err: NodeJS.ErrnoException): AgentUnavailableError {
  const start = 'start one with: sudo xctl agent';
  switch (err.code) {
    case 'ENOENT':
      return new AgentUnavailableError(`no xctl agent is running (socket ${socketPath} not found); ${start}`, socketPath, err.code);
    case 'ECONNREFUSED':
      return new AgentUnavailableError(`no xctl agent is running (socket ${socketPath} refused); ${start}`, socketPath, err.code);
    case 'EACCES':
    case 'EPERM':
      return new AgentUnavailableError(
        `permission denied on ${socketPath}: run as root or a member of the socket's group`,
        socketPath,
        err.code,
      );
    default:
      return new AgentUnavailableError(`lost the connection to the agent on ${socketPath}: ${err.message}`, socketPath, err.code);
  }
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new IpcError('MALFORMED_FRAME', `the agent sent a body that is not JSON: ${(e as Error).message}`);
  }
}

export function callAgent(socketPath: string, call: AgentCall, opts: CallOptions = {}): Promise<AgentReply> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const pid = call.pid ?? 0;
  if (!Number.isInteger(pid) || pid < 0 || pid > 0xffffffff) {
    return Promise.reject(new TypeError(`pid must be an integer between 0 and 4294967295, got ${call.pid}`));
  }
  const id = nextRequestId();
  const frame = encodeRequestFrame({ id, version: PROTOCOL_VERSION, method: call.method, pid, args: call.args ?? {} });
  const decoder = new FrameDecoder({ maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_RESPONSE_MAX_BYTES });

  return new Promise<AgentReply>((resolve, reject) => {
    let settled = false;
    const socket = net.createConnection(socketPath);
    const finish = (err: Error | undefined, reply?: AgentReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(
      () => finish(new AgentUnavailableError(`the agent did not answer within ${timeoutMs / 1000} s`, socketPath, 'ETIMEDOUT')),
      timeoutMs,
    );

    socket.on('connect', () => socket.write(frame));
    socket.on('error', (err: NodeJS.ErrnoException) => finish(connectError(socketPath, err)));
    socket.on('close', () =>
      finish(new AgentUnavailableError(`the agent on ${socketPath} closed the connection without answering`, socketPath)),
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const payload of decoder.push(chunk)) {
          let res: ReturnType<typeof decodeResponse>;
          try {
            res = decodeResponse(payload);
          } catch (e) {
            throw new IpcError('MALFORMED_FRAME', `cannot decode the agent's response: ${(e as Error).message}`);
          }
          // id 0: the agent refused the connection itself (busy, bad frame)
          if (res.id !== id && !(res.id === CONNECTION_ERROR_ID && !res.ok)) continue;
          finish(undefined, { ok: res.ok, code: res.code, error: res.error, body: parseBody(res.body) });
          return;
        }
      } catch (e) {
        finish(e as Error);
      }
    });
  });
}
