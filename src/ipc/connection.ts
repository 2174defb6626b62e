// One client connection on the agent side: frames in, handler calls, responses out.
import type * as net from 'node:net';
import type { Logger } from 'pino';
import { type ErrorCodeName, FrameError, IpcError } from './errors';
import { FrameDecoder } from './framing';
import { CONNECTION_ERROR_ID, type IpcRequest, PROTOCOL_VERSION, decodeRequest, encodeResponseFrame } from './protocol';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** Any JSON-serialisable value; sent to the client as the Response's JSON body. */
export type ResponseBody = unknown;

export type IpcHandler = (req: IpcRequest, peer: PeerCred | undefined) => Promise<ResponseBody>;

export interface ConnectionLimits {
  maxFrameBytes: number;
  /** a handler slower than this gets an UNAVAILABLE reply (it keeps running, its result is dropped) */
  requestTimeoutMs: number;
  /** slow-loris guard: an incomplete frame older than this closes the connection */
  frameTimeoutMs: number;
  /** a connection with nothing in progress for this long is closed, so idle clients cannot hold every slot */
  idleTimeoutMs: number;
  /** handler calls running at once for one connection; further pipelined requests wait */
  maxInFlight: number;
  /** a reply larger than this is replaced by an error naming its size (bounds memory per connection) */
  maxReplyBytes: number;
}

/** After an error reply, give a client that does not read at most this long before dropping it. */
const CLOSE_GRACE_MS = 2000;

export class Connection {
  private readonly decoder: FrameDecoder;
  private readonly queue: IpcRequest[] = [];
  private running = 0; // handler calls not yet settled
  private awaitingReply = 0; // requests accepted but not yet answered
  private closing = false;
  private frameTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private pumpScheduled: NodeJS.Immediate | undefined;
  private drainTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly handler: IpcHandler,
    private readonly peer: PeerCred | undefined,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
  ) {
    this.decoder = new FrameDecoder({ maxFrameBytes: limits.maxFrameBytes });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
      this.schedulePump();
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'client connection error'));
    socket.on('close', () => {
      this.clearTimers();
      clearImmediate(this.pumpScheduled);
      this.queue.length = 0;
      this.log.debug('client disconnected');
    });
    this.armIdleTimer();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    // the idle clock is not reset by bytes: only a request that names a method (dispatch) resets it
    let frames: Buffer[];
    let frameError: FrameError | undefined;
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      frameError = e;
      frames = e.completeFrames;
    }
    for (const payload of frames) {
      let req: IpcRequest;
      try {
        req = decodeRequest(payload);
      } catch (e) {
        // the frame boundaries may be off: nothing after this frame can be trusted
        this.fail('MALFORMED_FRAME', `cannot decode request: ${(e as Error).message}`);
        this.pump();
        return;
      }
      this.queue.push(req);
      this.awaitingReply++;
    }
    if (frameError) {
      this.fail(frameError.code, frameError.message);
      this.pump();
      return;
    }
    this.updateFrameTimer(frames.length > 0);
    this.pump();
  }

  /** The incomplete-frame clock starts with a frame's first byte and is not reset by more bytes of it. */
  private updateFrameTimer(completedFrames: boolean): void {
    if (completedFrames || !this.decoder.hasPartialFrame) {
      clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    }
    if (this.decoder.hasPartialFrame && !this.frameTimer) {
      const ms = this.limits.frameTimeoutMs;
      const onTimeout = () => {
        // requests still queued: we stopped reading, the client is waiting on us, not stalling
        if (this.queue.length > 0 && !this.closing) {
          this.frameTimer = setTimeout(onTimeout, ms).unref();
          return;
        }
        this.log.warn(
          { bufferedBytes: this.decoder.bufferedBytes },
          `protocol error: frame incomplete for more than ${ms} ms; closing the connection`,
        );
        this.socket.destroy();
      };
      this.frameTimer = setTimeout(onTimeout, ms).unref();
    }
  }

  private armIdleTimer(): void {
    if (this.closing || this.idleTimer || this.awaitingReply > 0) return;
    this.idleTimer = setTimeout(() => {
      this.log.debug(`client idle for more than ${this.limits.idleTimeoutMs} ms; closing the connection`);
      this.socket.destroy();
    }, this.limits.idleTimeoutMs).unref();
  }

  private clearIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private clearTimers(): void {
    clearTimeout(this.drainTimer);
    clearTimeout(this.frameTimer);
    this.frameTimer = undefined;
    this.clearIdleTimer();
  }

  /** Reply with a connection-level error, stop reading, close once the accepted requests are answered. */
  private fail(code: ErrorCodeName, message: string): void {
    this.log.warn({ code }, `protocol error: ${message}; closing the connection`);
    this.closing = true;
    this.clearTimers();
    this.send({ id: CONNECTION_ERROR_ID, ok: false, code, error: message, body: '' });
  }

  /**
   * Starts queued requests while there is room: fewer than maxInFlight running, and the client is
   * reading its replies (no dispatch while the socket needs a drain, so unread replies cannot pile up).
   */
  private pump(): void {
    while (this.queue.length > 0 && this.running < this.limits.maxInFlight && !this.socket.writableNeedDrain) {
      const req = this.queue.shift()!;
      this.dispatch(req).catch((err) => this.log.error({ err, id: req.id }, 'failed to answer a request'));
    }
    if (this.socket.writableNeedDrain && !this.drainTimer && !this.socket.destroyed) {
      // a client that stops reading its replies holds buffers and a slot: not for longer than the idle timeout
      const ms = this.limits.idleTimeoutMs;
      this.drainTimer = setTimeout(() => {
        this.log.warn({ queued: this.queue.length }, `client has not read its replies for ${ms} ms; closing the connection`);
        this.socket.destroy();
      }, ms).unref();
    }
    this.updateFlow();
    this.closeIfDone();
  }

  /** The next pump runs on a later turn of the event loop: other clients, timers and signals go first. */
  private schedulePump(): void {
    if (this.pumpScheduled || this.socket.destroyed) return;
    this.pumpScheduled = setImmediate(() => {
      this.pumpScheduled = undefined;
      this.pump();
    });
  }

  /** Read more only when there is room: bounded queue, and the client is reading our replies. */
  private updateFlow(): void {
    if (this.socket.destroyed) return;
    const canRead = !this.closing && this.queue.length === 0 && !this.socket.writableNeedDrain;
    if (canRead) this.socket.resume();
    else this.socket.pause();
  }

  private closeIfDone(): void {
    if (!this.closing || this.awaitingReply > 0 || this.socket.destroyed) return;
    if (this.socket.writableEnded) return;
    this.socket.end(() => this.socket.destroy());
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private async dispatch(req: IpcRequest): Promise<void> {
    if (req.version !== PROTOCOL_VERSION) {
      this.log.warn({ id: req.id, version: req.version }, 'protocol error: unsupported protocol version');
      return this.reply(req, {
        ok: false,
        code: 'UNSUPPORTED_VERSION',
        error: `protocol version ${req.version} is not supported; this agent speaks version ${PROTOCOL_VERSION} (use an xctl CLI of the same release as the agent)`,
      });
    }
    if (req.method === '') {
      this.log.warn({ id: req.id }, 'protocol error: request without a method');
      return this.reply(req, { ok: false, code: 'BAD_REQUEST', error: 'the request names no method' });
    }
    this.clearIdleTimer();
    this.running++;
    let answered = false;
    const timer = setTimeout(() => {
      answered = true;
      this.log.warn({ id: req.id, method: req.method }, `request timed out after ${this.limits.requestTimeoutMs} ms`);
      this.reply(req, {
        ok: false,
        code: 'UNAVAILABLE',
        error: `'${req.method}' did not finish within ${this.limits.requestTimeoutMs} ms`,
      });
    }, this.limits.requestTimeoutMs);
    let outcome: { ok: true; body: string } | { ok: false; code: ErrorCodeName; error: string };
    try {
      const result = await this.handler(req, this.peer);
      outcome = { ok: true, body: serialise(req.method, result) };
    } catch (e) {
      if (e instanceof IpcError) {
        outcome = { ok: false, code: e.code, error: e.message };
      } else {
        const err = e instanceof Error ? e : new Error(String(e));
        this.log.error({ err, id: req.id, method: req.method }, `handler for '${req.method}' failed`);
        outcome = { ok: false, code: 'INTERNAL', error: err.message };
      }
    } finally {
      clearTimeout(timer);
      this.running--;
    }
    if (outcome.ok && Buffer.byteLength(outcome.body) > this.limits.maxReplyBytes) {
      const size = Buffer.byteLength(outcome.body);
      this.log.warn({ id: req.id, method: req.method, bytes: size }, 'reply too large; answered with an error');
      outcome = {
        ok: false,
        code: 'BAD_REQUEST',
        error: `the reply to '${req.method}' would be ${size} bytes, more than the ${this.limits.maxReplyBytes}-byte limit; ask for less (e.g. a smaller limit)`,
      };
    }
    if (!answered) this.reply(req, outcome.ok ? { ok: true, code: 'OK', error: '', body: outcome.body } : outcome);
    this.schedulePump();
  }

  private reply(req: IpcRequest, r: { ok: boolean; code: ErrorCodeName; error: string; body?: string }): void {
    this.awaitingReply--;
    this.send({ id: req.id, ok: r.ok, code: r.code, error: r.error, body: r.body ?? '' });
    this.armIdleTimer();
    this.closeIfDone();
  }

  private send(res: { id: number; ok: boolean; code: ErrorCodeName; error: string; body: string }): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (!this.socket.write(encodeResponseFrame({ ...res, version: PROTOCOL_VERSION }))) this.updateFlow();
  }
}

function serialise(method: string, result: ResponseBody): string {
  try {
    return JSON.stringify(result ?? null);
  } catch (e) {
    throw new Error(`cannot serialise the result of '${method}' as JSON: ${(e as Error).message}`);
  }
}
