#!/usr/bin/env node
// Usage: node tcp-sink.js <addr> <port>
// Accepts TCP connections and discards everything; prints "listening" once bound.
'use strict';
const net = require('node:net');

const [addr, portStr] = process.argv.slice(2);
const port = Number(portStr);
if (!addr || !Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: tcp-sink.js <addr> <port>');
  process.exit(2);
}

const server = net.createServer((sock) => {
  sock.on('error', () => {}); // peer resets are expected under injected loss
  sock.resume(); // discard
});
server.on('error', (err) => {
  console.error(`tcp-sink: listen on ${addr}:${port} failed: ${err.message}`);
  process.exit(1);
});
server.listen({ host: addr, port }, () => console.log('listening'));

// Being stopped is the normal end of a sink's life: exit 0, not by signal.
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
