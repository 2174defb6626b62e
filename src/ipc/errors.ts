// Errors of the CLI <-> agent protocol and its transport.
import { UserError, XctlError } from '../errors';

/** Mirrors `enum ErrorCode` in proto/xctl.proto (a test checks they agree). */
export const ErrorCode = {
  OK: 0,
  BAD_REQUEST: 1,
  UNKNOWN_METHOD: 2,
  NOT_FOUND: 3,
  INTERNAL: 4,
  UNSUPPORTED_VERSION: 5,
  FRAME_TOO_LARGE: 6,
  MALFORMED_FRAME: 7,
  FORBIDDEN: 8,
  UNAVAILABLE: 9,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;

const NAME_BY_NUMBER = new Map<number, ErrorCodeName>(
  (Object.entries(ErrorCode) as [ErrorCodeName, number][]).map(([name, n]) => [n, name]),
);

export function errorCodeName(n: number): ErrorCodeName | undefined {
  return NAME_BY_NUMBER.get(n);
}

/** A protocol-level failure with the code the agent puts in its Response. Handlers throw it. */
export class IpcError extends XctlError {
  constructor(
    readonly code: Exclude<ErrorCodeName, 'OK'>,
    message: string,
  ) {
    super(message);
    this.name = 'IpcError';
  }
}

/** The byte stream cannot be split into frames; the connection is unusable after it. */
export class FrameError extends IpcError {
  /** Frames completed in the same FrameDecoder.push before the error (still answerable). */
  completeFrames: Buffer[] = [];
  declare readonly code: 'FRAME_TOO_LARGE' | 'MALFORMED_FRAME';

  constructor(code: 'FRAME_TOO_LARGE' | 'MALFORMED_FRAME', message: string) {
    super(code, message);
    this.name = 'FrameError';
  }
}

/** Another agent answers on the socket path, so this one must not take it over. */
export class AgentAlreadyRunningError extends UserError {
  constructor(
    readonly socketPath: string,
    readonly agentPid?: number,
  ) {
    super(`an xctl agent is already listening on ${socketPath}${agentPid !== undefined ? ` (pid ${agentPid})` : ''}`);
    this.name = 'AgentAlreadyRunningError';
  }
}

/** Something that is not a socket sits on the socket path; we never delete it. */
export class SocketPathOccupiedError extends UserError {
  constructor(
    readonly socketPath: string,
    what: string,
  ) {
    super(`refusing to replace ${socketPath}: it is ${what}, not a socket; move it away or choose another socket path`);
    this.name = 'SocketPathOccupiedError';
  }
}

/** The CLI cannot reach the agent (not running, no permission, no answer, connection lost). */
export class AgentUnavailableError extends XctlError {
  constructor(
    message: string,
    readonly socketPath: string,
    readonly causeCode?: string,
  ) {
    super(message);
    this.name = 'AgentUnavailableError';
  }
}
