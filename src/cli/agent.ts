/** `xctl agent`: run the daemon in the foreground (systemd / Kubernetes supervise it). */
import { parseArgs } from 'node:util';
import { Agent } from '../agent/agent';
import { createLogger } from '../log';
import { configForReport } from '../config/config';
import { CONFIG_FLAG_OPTIONS, configFlagHelp, resolveFromFlags } from './config';
import { CrashReporter } from '../ops/crash';
import { XctlError } from '../errors';

export function agentHelp(): string {
  return `usage: xctl agent [--config FILE] [agent flags...]
${configFlagHelp()}`;
}

export async function agentCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CONFIG_FLAG_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${agentHelp()}\n`);
    return 0;
  }
  const { config: cfg, file } = resolveFromFlags(values);
  const logger = createLogger({ level: cfg.logLevel, pretty: cfg.logPretty });
  const report = configForReport(cfg);
  let agent: Agent;
  try {
    agent = await Agent.start({
      socketPath: cfg.socket,
      rulesDir: cfg.rules,
      metricsAddr: cfg.metricsAddr,
      families: cfg.families,
      probeConfig: cfg.probes,
      gpu: cfg.gpu,
      cuda: { inflightMs: cfg.gpu.ncclInflightMs },
      nodeName: cfg.kubernetes.nodeName,
      scopeCgroup: cfg.scopeCgroup,
      caps: cfg.graph,
      logger,
      stateDir: cfg.stateDir,
      ringBytes: cfg.limits.ringBytes,
      cpuBudget: cfg.limits.cpuBudget,
      governorIntervalMs: cfg.limits.governorIntervalMs,
      bpfStats: cfg.bpfStats,
      kubernetes: cfg.kubernetes,
      fix: cfg.fix,
      identity: cfg.identity,
      effectiveConfig: { file: file ?? null, ...(report as object) },
      installCrashHandlers: true,
    });
  } catch (e) {
    // a start-up failure that is not the user's to fix (those exit 2 with their message) leaves a report
    if (!(e instanceof XctlError && e.userFacing)) {
      const f = new CrashReporter(cfg.stateDir, () => ({ config: report, activity: 'starting' })).write('startup', e);
      if (f) logger.fatal({ file: f }, 'crash report written');
    }
    throw e;
  }
  process.on('SIGHUP', () => agent.reloadRules());
  const why = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal: why }, 'stopping');
  // a stop that hangs must not keep the agent alive: the supervisor's SIGTERM ends it within seconds
  setTimeout(() => {
    logger.error('stopping took more than 5 s; exiting now');
    process.exit(1);
  }, 5000).unref();
  await agent.stop();
  return 0;
}
