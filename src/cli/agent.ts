/** `xctl agent`: run the daemon in the foreground (systemd / Kubernetes supervise it). */
import { parseArgs } from 'node:util';
import { Agent } from '../agent/agent';
import { createLogger } from '../log';
import { PROBE_HELP } from './probe-options';
import { configForReport } from '../agent/config';
import { CONFIG_FLAG_OPTIONS, resolveFromFlags } from './config';
import { CrashReporter } from '../ops/crash';

export const AGENT_HELP = `usage: xctl agent [--config FILE] [--socket PATH] [--rules DIR] [--metrics-addr HOST:PORT|off] [--log-level L] [--log-pretty]
  --socket PATH        Unix socket for the CLI (default $XCTL_SOCKET or /run/xctl/xctl.sock, mode 0660)
  --rules DIR          rule directory (default: the package's rules/); reloaded on change and on SIGHUP
  --metrics-addr A     Prometheus /metrics, /healthz, /readyz (default 127.0.0.1:9464; "off" to disable)
  --log-level L        trace|debug|info|warn|error (default $XCTL_LOG_LEVEL or info)
  --log-pretty         human-readable logs instead of JSON lines
  --state-dir DIR      crash reports (default $XCTL_STATE_DIR or /var/lib/xctl)
  --cpu-budget F       agent CPU budget, fraction of one core (default $XCTL_CPU_BUDGET or 0.05)
  --config FILE        YAML config (default $XCTL_CONFIG, else /etc/xctl/config.yaml if present);
                       precedence: default < file < environment < flag (see: xctl config show)
${PROBE_HELP}`;

export async function agentCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CONFIG_FLAG_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(AGENT_HELP + '\n');
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
      caps: cfg.graph,
      logger,
      stateDir: cfg.stateDir,
      ringBytes: cfg.limits.ringBytes,
      cpuBudget: cfg.limits.cpuBudget,
      governorIntervalMs: cfg.limits.governorIntervalMs,
      bpfStats: cfg.bpfStats,
      kubernetes: cfg.kubernetes,
      fix: cfg.fix,
      effectiveConfig: { file: file ?? null, ...(report as object) },
      installCrashHandlers: true,
    });
  } catch (e) {
    // a start-up failure that is not the user's to fix (those exit 2 with their message) leaves a report
    const name = (e as Error).name;
    if (!['PreflightError', 'ProbeError', 'ConfigError', 'AgentAlreadyRunningError', 'SocketPathOccupiedError'].includes(name) && !/^no valid rules/.test((e as Error).message)) {
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
  await agent.stop();
  return 0;
}
