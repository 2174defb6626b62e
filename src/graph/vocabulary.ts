/**
 * Metric names the graph records, shared with the rules (rules/README.md
 * lists them for rule authors). Interned constants: series lookup compares
 * by identity.
 */
export const M = {
  tcpRetransmits: 'tcp.retransmits', // segments per retransmit record (process, peer)
  ioLatency: 'io.latency', // ns the process waited per IO (process, device)
  ioErrors: 'io.errors', // 1 per failed IO (process, device)
  ioBytes: 'io.bytes', // bytes per IO (device)
  offcpuSleep: 'offcpu.sleep', // ns per interruptible sleep >= threshold
  offcpuBlocked: 'offcpu.blocked', // ns per uninterruptible (D) sleep >= threshold
  offcpuRunq: 'offcpu.runq', // ns of run-queue delay per record
  waitsOnProcess: 'offcpu.waits_on_process', // ns waited per wakeup by another process
  cpuUsage: 'cpu.usage', // fraction of one CPU (sampled)
} as const;

export const SIGNAL_STOPS = new Set([19, 20, 21, 22]); // SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU
export const SIGCONT = 18;
/** Default action "terminate" (with or without core): a sender of these may have killed the target. */
export const FATAL_BY_DEFAULT = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15, 24, 25, 31]);
