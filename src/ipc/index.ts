// Public surface of the CLI <-> agent protocol and transport.
export * from './errors';
export { PROTOCOL_VERSION, IpcRequest, IpcResponse } from './protocol';
export { FrameDecoder, DEFAULT_MAX_FRAME_BYTES } from './framing';
export { startIpcServer, IpcServer, IpcServerOptions, IpcHandler, PeerCred, ResponseBody } from './server';
export { callAgent, AgentCall, AgentReply, CallOptions, resolveSocketPath, defaultSocketPath, DEFAULT_SOCKET_PATH } from './client';
