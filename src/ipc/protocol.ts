// Message types of the CLI <-> agent protocol, loaded from proto/xctl.proto at
// runtime with protobufjs (no generated code to keep in sync), and the codec
// between those messages and frames.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { ErrorCode, type ErrorCodeName, errorCodeName } from './errors';

/** Bumped on incompatible changes; the agent rejects other versions with UNSUPPORTED_VERSION. */
export const PROTOCOL_VERSION = 1;

/** id used for errors about a connection rather than a request (bad frame, too many connections). */
export const CONNECTION_ERROR_ID = 0;

export interface IpcRequest {
  id: number;
  version: number;
  method: string;
  /** 0 when the method takes no pid */
  pid: number;
  args: Record<string, string>;
}

export interface IpcResponse {
  id: number;
  version: number;
  ok: boolean;
  code: ErrorCodeName;
  error: string;
  /** JSON text of the method's result; '' on errors */
  body: string;
}

interface ProtoTypes {
  root: protobuf.Root;
  Request: protobuf.Type;
  Response: protobuf.Type;
  ErrorCode: protobuf.Enum;
}

let cached: ProtoTypes | undefined;

/** Walks up from this file to the project root: works from src/ipc and from dist/src/ipc. */
export function findProtoFile(startDir: string = __dirname): string {
  for (let dir = startDir; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'proto', 'xctl.proto');
    if (path.dirname(dir) === dir) throw new Error(`cannot find proto/xctl.proto: no package.json above ${startDir}`);
  }
}

export function protoTypes(): ProtoTypes {
  if (cached) return cached;
  const root = protobuf.loadSync(findProtoFile());
  cached = {
    root,
    Request: root.lookupType('xctl.v1.Request'),
    Response: root.lookupType('xctl.v1.Response'),
    ErrorCode: root.lookupEnum('xctl.v1.ErrorCode'),
  };
  return cached;
}

/** encodeDelimited output as a Buffer (varint length prefix + message). */
function delimited(type: protobuf.Type, fields: object): Buffer {
  const bytes = type.encodeDelimited(type.create(fields)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeRequestFrame(req: IpcRequest): Buffer {
  return delimited(protoTypes().Request, req);
}

export function encodeResponseFrame(res: IpcResponse): Buffer {
  return delimited(protoTypes().Response, { ...res, code: ErrorCode[res.code] });
}

/** Throws (protobufjs RangeError/Error) when the payload is not a Request. */
export function decodeRequest(payload: Uint8Array): IpcRequest {
  const o = protoTypes().Request.toObject(protoTypes().Request.decode(payload), { defaults: true, objects: true });
  return {
    id: o.id as number,
    version: o.version as number,
    method: o.method as string,
    pid: o.pid as number,
    args: { ...(o.args as Record<string, string>) },
  };
}

/** Throws when the payload is not a Response. Unknown error codes (a newer agent) become INTERNAL. */
export function decodeResponse(payload: Uint8Array): IpcResponse {
  const o = protoTypes().Response.toObject(protoTypes().Response.decode(payload), { defaults: true });
  const codeNumber = o.code as number;
  const code = errorCodeName(codeNumber);
  return {
    id: o.id as number,
    version: o.version as number,
    ok: o.ok as boolean,
    code: code ?? 'INTERNAL',
    error: code ? (o.error as string) : `(agent error code ${codeNumber}) ${o.error as string}`,
    body: o.body as string,
  };
}
