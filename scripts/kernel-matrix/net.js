// Inside a kernel-matrix VM: 4 MiB over TCP on the loopback (netem drops 5 %),
// client and server in this one process, so every retransmit is this pid's.
const net = require('node:net');
const total = 4 << 20;
let got = 0;
const server = net.createServer((s) =>
  s.on('data', (d) => {
    got += d.length;
    if (got >= total) process.exit(0);
  }),
);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`KXW|tcp|${process.pid}|${port}`);
  const c = net.connect(port, '127.0.0.1', () => c.write(Buffer.alloc(total, 1)));
});
setTimeout(() => {
  console.log(`KXW|error|tcp transfer incomplete after 90 s: ${got} of ${total} bytes`);
  process.exit(1);
}, 90_000);
