/** Standalone `xctl replay` entry (node dist/src/cli/replay-main.js FILE ...), used by tests. */
import { replayCommand } from './replay';

replayCommand(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`xctl replay: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 2;
  },
);
