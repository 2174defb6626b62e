#!/usr/bin/env node
// Usage: node tcp-idle-sender.js <addr> <port> <bytes>
// Connects and prints "connected pid <pid> sport <port>"; on a stdin line
// writes <bytes> in ONE write, prints "written", then holds the socket open
// without writing again (so the kernel keeps retransmitting unacked data that
// no later sendmsg would attribute).
'use strict';
const net = require('node:net');
const [addr, portStr, bytesStr] = process.argv.slice(2);
const sock = net.connect({ host: addr, port: Number(portStr) }, () => {
  console.log(`connected pid ${process.pid} sport ${sock.localPort}`);
});
sock.on('error', (e) => {
  console.error(`tcp-idle-sender: ${e.message}`);
  process.exit(1);
});
process.stdin.once('data', () => {
  sock.write(Buffer.alloc(Number(bytesStr), 0x79), () => console.log('written'));
});
setInterval(() => {}, 1 << 30);
