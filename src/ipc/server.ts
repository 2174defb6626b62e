// The agent side of the CLI <-> agent protocol: a Unix socket server that
// answers framed Requests through one handler function.
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Logger } from 'pino';
import { Connection, type IpcHandler, type PeerCred } from './connection';
import { DEFAULT_MAX_FRAME_BYTES } from './framing';
import { CONNECTION_ERROR_ID, PROTOCOL_VERSION, encodeResponseFrame } from './protocol';
import { claimSocketPath } from './socket-file';

export type { IpcHandler, PeerCred, ResponseBody } from './connection';

export interface IpcServerOptions {
  socketPath: string;
  /** socket file mode; 0660 lets root and the socket's group in */
  mode?: number;
  handler: IpcHandler;
  logger: Logger;
  /** largest request frame accepted (default 1 MiB) */
  maxFrameBytes?: number;
  /** connections served at once (default 64); the last `rootReserve` of them are for root only */
  maxConnections?: number;
  /** connections one non-root uid may hold at once (default 8) */
  maxConnectionsPerUid?: number;
  /** connections kept for root when everyone else has used theirs (default 8) */
  rootReserve?: number;
  /** a reply larger than this is answered with an error instead (default 16 MiB) */
  maxReplyBytes?: number;
  /** counts a refused connection (the agent exports it as a metric) */
  onRefused?: (reason: RefusalReason) => void;
  /** default 30 s */
  requestTimeoutMs?: number;
  /** an incomplete frame older than this closes its connection (default 10 s) */
  frameTimeoutMs?: number;
  /** a connection with nothing in progress this long is closed (default 60 s) */
  idleTimeoutMs?: number;
  /** handler calls running at once per connection (default 16) */
  maxInFlightPerConnection?: number;
  /** SO_PEERCRED reader (Node cannot read it; the native addon provides one) */
  getPeerCred?: (fd: number) => PeerCred | undefined;
}

/** why a connection was refused: every slot taken, the non-root share taken, or this uid's share taken */
export type RefusalReason = 'total' | 'non_root' | 'per_uid';

export interface IpcServer {
  close(): Promise<void>;
  readonly address: string;
}

function socketFd(socket: net.Socket): number | undefined {
  // private libuv handle: the only way to reach the fd from JS
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function listen(server: net.Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(socketPath, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export async function startIpcServer(opts: IpcServerOptions): Promise<IpcServer> {
  const { socketPath, handler, logger } = opts;
  const maxConnections = opts.maxConnections ?? 64;
  const limits = {
    maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
    frameTimeoutMs: opts.frameTimeoutMs ?? 10_000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
    maxInFlight: opts.maxInFlightPerConnection ?? 16,
    maxReplyBytes: opts.maxReplyBytes ?? 16 * 1024 * 1024,
  };
  const perUid = opts.maxConnectionsPerUid ?? 8;
  const rootReserve = Math.min(opts.rootReserve ?? 8, maxConnections - 1);
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const byUid = new Map<number, number>();
  let nextConnId = 1;

  /** Why this peer may not have another connection now, or undefined. Without peer credentials only the total counts. */
  const refusal = (peer: PeerCred | undefined): { reason: RefusalReason; error: string } | undefined => {
    if (accepted >= maxConnections)
      return { reason: 'total', error: `the agent is already serving ${maxConnections} connections; try again` };
    if (!peer || peer.uid === 0) return undefined;
    if (accepted >= maxConnections - rootReserve)
      return {
        reason: 'non_root',
        error: `the agent is serving ${accepted} connections; the last ${rootReserve} of ${maxConnections} are kept for root; try again`,
      };
    if ((byUid.get(peer.uid) ?? 0) >= perUid)
      return {
        reason: 'per_uid',
        error: `uid ${peer.uid} already holds ${perUid} connections to the agent (the per-user limit); close one and try again`,
      };
    return undefined;
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const log = logger.child({ conn: nextConnId++ });
    let peer: PeerCred | undefined;
    const fd = socketFd(socket);
    if (opts.getPeerCred && fd !== undefined) {
      try {
        peer = opts.getPeerCred(fd);
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'cannot read the peer credentials of a client');
      }
    }
    const refused = refusal(peer);
    if (refused) {
      log.warn({ peerUid: peer?.uid, reason: refused.reason }, `refusing a connection: ${refused.error}`);
      opts.onRefused?.(refused.reason);
      socket.on('error', () => {});
      socket.end(
        encodeResponseFrame({
          id: CONNECTION_ERROR_ID,
          version: PROTOCOL_VERSION,
          ok: false,
          code: 'UNAVAILABLE',
          error: refused.error,
          body: '',
        }),
      );
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    accepted++;
    const uid = peer?.uid;
    if (uid !== undefined) byUid.set(uid, (byUid.get(uid) ?? 0) + 1);
    socket.on('close', () => {
      accepted--;
      if (uid === undefined) return;
      const n = (byUid.get(uid) ?? 1) - 1;
      if (n > 0) byUid.set(uid, n);
      else byUid.delete(uid);
    });
    log.debug({ peer }, 'client connected');
    new Connection(socket, handler, peer, limits, peer ? log.child({ peerPid: peer.pid, peerUid: peer.uid }) : log);
  });

  await claimSocketPath(socketPath, logger);
  try {
    await listen(server, socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    // another agent created the path since we checked: check again (throws if it is live)
    await claimSocketPath(socketPath, logger);
    await listen(server, socketPath);
  }
  let ino: number;
  try {
    fs.chmodSync(socketPath, opts.mode ?? 0o660);
    ino = fs.statSync(socketPath).ino;
  } catch (e) {
    server.close();
    throw e;
  }
  server.on('error', (err) => logger.error({ err }, 'agent socket server error'));
  logger.info({ socketPath }, 'agent listening');

  let closed: Promise<void> | undefined;
  return {
    address: socketPath,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => {
          // remove our own socket file only: a newer agent may already own the path
          try {
            if (fs.statSync(socketPath).ino === ino) fs.unlinkSync(socketPath);
          } catch {
            /* already gone */
          }
          resolve();
        });
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}
