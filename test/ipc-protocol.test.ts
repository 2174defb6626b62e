// The protocol without sockets: the .proto and its TS mirror, the codec, the
// frame decoder's edge cases, socket path resolution and the log formats.
import t from 'tap';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { ErrorCode, FrameError } from '../src/ipc/errors';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder } from '../src/ipc/framing';
import {
  PROTOCOL_VERSION,
  decodeRequest,
  decodeResponse,
  encodeRequestFrame,
  encodeResponseFrame,
  findProtoFile,
  protoTypes,
} from '../src/ipc/protocol';
import { DEFAULT_SOCKET_PATH, resolveSocketPath } from '../src/ipc/socket-path';
import { createLogger, formatPrettyLine } from '../src/log';

const projectRoot = path.resolve(__dirname, '../..'); // dist/test -> project root

t.test('the .proto is found from src/ and from dist/src/, and loaded once', async (t) => {
  const expected = path.join(projectRoot, 'proto', 'xctl.proto');
  t.equal(findProtoFile(path.join(projectRoot, 'src', 'ipc')), expected);
  t.equal(findProtoFile(path.join(projectRoot, 'dist', 'src', 'ipc')), expected);
  t.equal(findProtoFile(), expected);
  t.throws(() => findProtoFile('/'), /cannot find proto\/xctl.proto/);
  t.equal(protoTypes(), protoTypes(), 'types are cached');
  t.equal(PROTOCOL_VERSION, 1);
});

t.test('the TS ErrorCode mirrors enum ErrorCode of the .proto', async (t) => {
  t.same(protoTypes().ErrorCode.values, ErrorCode);
  t.equal(ErrorCode.UNAVAILABLE, 9);
});

t.test('requests round-trip, and frames are protobufjs encodeDelimited', async (t) => {
  const req = { id: 42, version: PROTOCOL_VERSION, method: 'why', pid: 4294967295, args: { window: '30s', 'unicode ✓': 'é' } };
  const frame = encodeRequestFrame(req);
  const decoded = protoTypes().Request.decodeDelimited(frame);
  t.equal((decoded as unknown as { method: string }).method, 'why');
  t.equal(frame[0], frame.length - 1, 'one-byte varint prefix holds the message length');
  t.same(decodeRequest(frame.subarray(1)), req);
  t.same(decodeRequest(Buffer.alloc(0)), { id: 0, version: 0, method: '', pid: 0, args: {} }, 'proto3 defaults');
});

t.test('responses round-trip; an unknown error code becomes INTERNAL and says so', async (t) => {
  const res = { id: 7, version: 1, ok: false, code: 'NOT_FOUND' as const, error: 'no process 12', body: '' };
  t.same(decodeResponse(encodeResponseFrame(res).subarray(1)), res);
  const future = protobuf.Writer.create()
    .uint32((4 << 3) | 0)
    .uint32(77)
    .uint32((5 << 3) | 2)
    .string('new thing')
    .finish();
  const d = decodeResponse(future);
  t.equal(d.code, 'INTERNAL');
  t.equal(d.error, '(agent error code 77) new thing');
});

const frameOf = (payload: Buffer) => Buffer.concat([Buffer.from(protobuf.Writer.create().uint32(payload.length).finish()), payload]);

t.test('FrameDecoder: byte by byte, every split point, several frames per chunk', async (t) => {
  const a = Buffer.alloc(300, 0xab); // 2-byte length prefix
  const b = Buffer.from('second');
  const stream = Buffer.concat([frameOf(a), frameOf(b), frameOf(Buffer.alloc(0))]);

  const byByte = new FrameDecoder();
  const got: Buffer[] = [];
  for (const byte of stream) got.push(...byByte.push(Buffer.from([byte])));
  t.same(got, [a, b, Buffer.alloc(0)], 'byte by byte');
  t.equal(byByte.hasPartialFrame, false);

  let allSplitsOk = true;
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new FrameDecoder();
    const frames = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    if (frames.length !== 3 || !frames[0]!.equals(a) || !frames[1]!.equals(b) || frames[2]!.length !== 0) allSplitsOk = false;
  }
  t.ok(allSplitsOk, `all ${stream.length + 1} two-chunk splits decode to the same 3 frames`);

  const one = new FrameDecoder().push(stream);
  t.equal(one.length, 3, 'three frames in one chunk');

  const partial = new FrameDecoder();
  t.same(partial.push(stream.subarray(0, 100)), []);
  t.equal(partial.hasPartialFrame, true);
  t.equal(partial.bufferedBytes, 98, 'holds the body bytes received so far (prefix consumed)');
});

t.test('FrameDecoder: an oversized length is refused before any body is buffered', async (t) => {
  const d = new FrameDecoder();
  const fiftyMiB = Buffer.from(
    protobuf.Writer.create()
      .uint32(50 * 1024 * 1024)
      .finish(),
  );
  const good = frameOf(Buffer.from('ok'));
  let err: unknown;
  try {
    d.push(Buffer.concat([good, fiftyMiB, Buffer.alloc(1000)]));
  } catch (e) {
    err = e;
  }
  t.type(err, FrameError);
  t.equal((err as FrameError).code, 'FRAME_TOO_LARGE');
  t.equal((err as FrameError).message, `frame of ${50 * 1024 * 1024} bytes exceeds the 1048576-byte limit`);
  t.same((err as FrameError).completeFrames, [Buffer.from('ok')], 'the frame before it is still handed out');
  t.equal(d.bufferedBytes, 0, 'nothing held');
  t.throws(() => d.push(Buffer.from('more')), { code: 'FRAME_TOO_LARGE' }, 'stays failed: the stream is desynchronised');

  const exact = new FrameDecoder({ maxFrameBytes: 10 });
  t.same(exact.push(frameOf(Buffer.alloc(10, 1))), [Buffer.alloc(10, 1)], 'exactly the limit is fine');
  t.throws(() => exact.push(frameOf(Buffer.alloc(11))), { message: 'frame of 11 bytes exceeds the 10-byte limit' });
  t.equal(DEFAULT_MAX_FRAME_BYTES, 1048576);
});

t.test('FrameDecoder: a varint longer than 5 bytes is MALFORMED_FRAME', async (t) => {
  const d = new FrameDecoder({ maxFrameBytes: 2 ** 40 });
  t.throws(() => d.push(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), { code: 'MALFORMED_FRAME', message: /longer than 5 bytes/ });
  // a 5-byte varint is legal: 0xffffffff
  t.throws(() => new FrameDecoder().push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])), {
    message: 'frame of 4294967295 bytes exceeds the 1048576-byte limit',
  });
});

t.test('FrameDecoder: memory stays bounded by one frame while a big frame trickles in', async (t) => {
  const d = new FrameDecoder();
  const body = Buffer.alloc(DEFAULT_MAX_FRAME_BYTES, 7);
  const stream = frameOf(body);
  let frames: Buffer[] = [];
  let maxHeld = 0;
  for (let off = 0; off < stream.length; off += 4096) {
    frames = frames.concat(d.push(stream.subarray(off, off + 4096)));
    maxHeld = Math.max(maxHeld, d.bufferedBytes);
  }
  t.equal(frames.length, 1);
  t.ok(frames[0]!.equals(body));
  t.ok(maxHeld <= DEFAULT_MAX_FRAME_BYTES, `held at most ${maxHeld} bytes`);
  t.equal(d.bufferedBytes, 0);
});

t.test('resolveSocketPath: --socket, then $XCTL_SOCKET, then /run/xctl/xctl.sock', async (t) => {
  const saved = process.env.XCTL_SOCKET;
  t.teardown(() => {
    if (saved === undefined) delete process.env.XCTL_SOCKET;
    else process.env.XCTL_SOCKET = saved;
  });
  delete process.env.XCTL_SOCKET;
  t.equal(resolveSocketPath(), '/run/xctl/xctl.sock');
  t.equal(DEFAULT_SOCKET_PATH, '/run/xctl/xctl.sock');
  process.env.XCTL_SOCKET = '/tmp/env.sock';
  t.equal(resolveSocketPath(), '/tmp/env.sock');
  t.equal(resolveSocketPath('/tmp/flag.sock'), '/tmp/flag.sock');
});

t.test('logger: JSON lines by default, a compact human format with pretty', async (t) => {
  const lines: string[] = [];
  const sink = { write: (s: string) => void lines.push(s) };
  const json = createLogger({ level: 'debug', destination: sink });
  json.debug({ conn: 3 }, 'client connected');
  json.trace('hidden');
  t.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!);
  t.match(rec, { level: 20, msg: 'client connected', conn: 3 });
  t.type(rec.time, 'number');

  lines.length = 0;
  const pretty = createLogger({ level: 'info', pretty: true, destination: sink });
  pretty.warn({ code: 'MALFORMED_FRAME', reason: 'bad wire type', n: 2 }, 'protocol error');
  t.match(lines[0], /^\d\d:\d\d:\d\d\.\d{3} WARN {2}protocol error code=MALFORMED_FRAME reason="bad wire type" n=2\n$/);
  lines.length = 0;
  pretty.error({ err: new Error('kaboom') }, 'handler failed');
  t.match(lines[0], /^\d\d:\d\d:\d\d\.\d{3} ERROR handler failed err=kaboom\n {4}Error: kaboom\n {8}at /);

  t.equal(formatPrettyLine('not json'), 'not json\n');
  t.throws(() => createLogger({ level: 'loud' }), { message: /invalid log level "loud" \(expected one of .*debug.*silent\)/ });
});

t.test('logger: the level defaults to $XCTL_LOG_LEVEL, else info', async (t) => {
  const saved = process.env.XCTL_LOG_LEVEL;
  t.teardown(() => {
    if (saved === undefined) delete process.env.XCTL_LOG_LEVEL;
    else process.env.XCTL_LOG_LEVEL = saved;
  });
  const sink = { write: () => {} };
  delete process.env.XCTL_LOG_LEVEL;
  t.equal(createLogger({ destination: sink }).level, 'info');
  process.env.XCTL_LOG_LEVEL = 'warn';
  t.equal(createLogger({ destination: sink }).level, 'warn');
});
