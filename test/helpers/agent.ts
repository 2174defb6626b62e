// An in-process agent with a private socket, for end-to-end tests; the CLI is
// run as a real subprocess against it.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { Agent, type AgentOptions } from '../../src/agent/agent';
import { defaultRulesDir } from '../../src/rules';
import type { Family, GpuOptions, ProbeConfig } from '../../src/native/addon';

export const XCTL = path.resolve(__dirname, '../../../bin/xctl');

export interface TestAgent {
  agent: Agent;
  socket: string;
  dir: string;
  logFile: string;
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  why(pid: number): Promise<{ code: number; answer: any; stderr: string }>;
  stop(): Promise<void>;
}

export async function startTestAgent(
  opts: {
    rulesDir?: string;
    probeConfig?: ProbeConfig;
    gpu?: GpuOptions;
    families?: Family[];
    metricsAddr?: string;
    agentOptions?: Partial<AgentOptions>;
  } = {},
): Promise<TestAgent> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xctl-agent-'));
  const socket = path.join(dir, 'xctl.sock');
  const logFile = path.join(dir, 'agent.log');
  const logger = pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true }));
  const agent = await Agent.start({
    socketPath: socket,
    rulesDir: opts.rulesDir ?? defaultRulesDir(),
    metricsAddr: opts.metricsAddr ?? 'off',
    logger,
    probeConfig: opts.probeConfig,
    gpu: opts.gpu,
    families: opts.families,
    ...opts.agentOptions,
  });
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [XCTL, ...args, '--socket', socket], { timeout: 20_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 99) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  return {
    agent,
    socket,
    dir,
    logFile,
    cli,
    async why(pid: number) {
      const r = await cli(['why', String(pid), '--json']);
      return { code: r.code, answer: r.stdout.trim() ? JSON.parse(r.stdout) : undefined, stderr: r.stderr };
    },
    async stop() {
      await agent.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
