/** `xctl agent`: run the daemon in the foreground (systemd / Kubernetes supervise it). */
import { parseArgs } from 'node:util';
import { Agent } from '../agent/agent';
import { createLogger } from '../ipc/logger';
import { resolveSocketPath } from '../ipc/socket-path';
import { defaultRulesDir } from '../rules';
import { PROBE_HELP, PROBE_OPTIONS, parseFamilies, probeConfig } from './probe-options';
import { loadAgentConfig } from '../agent/config';

export const AGENT_HELP = `usage: xctl agent [--config FILE] [--socket PATH] [--rules DIR] [--metrics-addr HOST:PORT|off] [--log-level L] [--log-pretty]
  --socket PATH        Unix socket for the CLI (default $XCTL_SOCKET or /run/xctl/xctl.sock, mode 0660)
  --rules DIR          rule directory (default: the package's rules/); reloaded on change and on SIGHUP
  --metrics-addr A     Prometheus /metrics, /healthz, /readyz (default 127.0.0.1:9464; "off" to disable)
  --log-level L        trace|debug|info|warn|error (default $XCTL_LOG_LEVEL or info)
  --log-pretty         human-readable logs instead of JSON lines
${PROBE_HELP}`;

export async function agentCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      socket: { type: 'string' },
      rules: { type: 'string' },
      'metrics-addr': { type: 'string' },
      'log-level': { type: 'string' },
      'log-pretty': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...PROBE_OPTIONS,
    },
  });
  if (values.help) {
    process.stdout.write(AGENT_HELP + '\n');
    return 0;
  }
  const cfg = values.config ? loadAgentConfig(values.config) : {};
  const logger = createLogger({ level: values['log-level'] ?? cfg.logLevel, pretty: values['log-pretty'] ?? cfg.logPretty });
  const agent = await Agent.start({
    socketPath: resolveSocketPath(values.socket ?? cfg.socket),
    rulesDir: values.rules ?? cfg.rules ?? defaultRulesDir(),
    metricsAddr: values['metrics-addr'] ?? cfg.metricsAddr ?? '127.0.0.1:9464',
    families: values.families ? parseFamilies(values.families) : cfg.families,
    probeConfig: { ...cfg.probes, ...probeConfig(values) },
    caps: cfg.graph,
    logger,
  });
  process.on('SIGHUP', () => agent.reloadRules());
  const why = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal: why }, 'stopping');
  await agent.stop();
  return 0;
}
