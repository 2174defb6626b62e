/**
 * xctl command-line entry: dispatches to one module per command, each loaded
 * only when used (a `why` from the CLI should not pay for loading the addon).
 * Exit codes: 0 ok, 1 "nothing found" where a command defines it, 2 errors.
 */
import { UsageError } from './usage';
import { XctlError } from '../errors';

const HELP = `usage: xctl <command> [options]

commands:
  agent     run the daemon: probes -> causal graph -> rules, answers on a Unix socket (root)
  why       why <pid|pod/…|container/…|job/ID [--rank N]>: the ranked causal chain (from the agent)
  ps        tracked processes and their top finding ([--by pod|job]: grouped; from the agent)
  events    live decoded event stream from the kernel probes (root)
  record    write the live stream to a recording file (root)
  replay    decode a recording
  demo      inject a real fault (packet loss in a private netns) and show the attributed events (root)
  analyze   FILE why <pid> | FILE ps: answer from a recording, offline, no root
  rules     check [DIR]: validate rule files
  fix       fix <pid> [--apply] [--yes]: a remediation plan for the current finding (dry run unless --apply)
  verify    verify <plan_id> [--wait]: did the fix work (resolved, partial, failed, recurred)
  doctor    check the machine for the agent: kernel, BTF, capabilities, mounts, probes, NVML, rules ([--json])
  config    show [--json]: effective agent config and where each value came from; validate FILE

run "xctl <command> --help" for a command's options`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  agent: async () => (await import('./agent')).agentCommand,
  why: async () => (await import('./why')).whyCommand,
  ps: async () => (await import('./why')).psCommand,
  events: async () => (await import('./events')).eventsCommand,
  record: async () => (await import('./record')).recordCommand,
  replay: async () => (await import('./replay')).replayCommand,
  demo: async () => (await import('./demo')).demoCommand,
  analyze: async () => (await import('./analyze')).analyzeCommand,
  rules: async () => (await import('../rules/check')).rulesCommand,
  fix: async () => (await import('./fix')).fixCommand,
  verify: async () => (await import('./fix')).verifyCommand,
  doctor: async () => (await import('./doctor')).doctorCommand,
  config: async () => (await import('./config')).configCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${HELP}\n`);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`xctl: unknown command "${name}"\n\n${HELP}\n`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    const err = e as Error & { code?: string };
    // parseArgs reports bad flags with ERR_PARSE_ARGS_* codes: a usage problem, not a crash
    if (e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`xctl ${name}: ${err.message}\n`);
      return 2;
    }
    if (e instanceof XctlError && e.userFacing) {
      process.stderr.write(`${err.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`xctl ${name}: ${err.stack ?? err.message}\n`);
    return 2;
  }
}

/** Process entry used by bin/xctl. */
export function run(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`xctl: ${(e as Error).stack}\n`);
      process.exitCode = 2;
    },
  );
}

if (require.main === module) run();
