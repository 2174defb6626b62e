#!/usr/bin/env node
// Usage: node tcp-sender.js <addr> <port> <seconds> [chunkBytes=16384]
// Connects, prints "pid <pid> sport <localPort>", writes chunks for <seconds>,
// then half-closes, waits for the peer to close and exits 0.
'use strict';
const net = require('node:net');

const [addr, portStr, secStr, chunkStr] = process.argv.slice(2);
const port = Number(portStr);
const seconds = Number(secStr);
const chunk = Buffer.alloc(Number(chunkStr ?? 16384), 0x78);
if (!addr || !Number.isInteger(port) || !(seconds >= 0) || chunk.length === 0) {
  console.error('usage: tcp-sender.js <addr> <port> <seconds> [chunkBytes]');
  process.exit(2);
}

let sent = 0;
const sock = net.connect({ host: addr, port }, () => {
  console.log(`pid ${process.pid} sport ${sock.localPort}`);
  const deadline = Date.now() + seconds * 1000;
  const pump = () => {
    while (Date.now() < deadline) {
      sent += chunk.length;
      if (!sock.write(chunk)) return void sock.once('drain', pump);
    }
    sock.end(); // FIN after all queued data
  };
  pump();
});
sock.on('error', (err) => {
  console.error(`tcp-sender: ${addr}:${port} failed after ${sent} bytes: ${err.message}`);
  process.exit(1);
});
sock.on('close', (hadError) => {
  if (!hadError) {
    console.log(`sent ${sent}`);
    process.exit(0);
  }
});
sock.resume(); // read (and drop) anything the peer sends so 'close' fires after its FIN
