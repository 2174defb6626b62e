/**
 * Plain-JS workload programs used by fault scenarios (demo, tests): they run
 * under `ip netns exec`, so they are standalone files, not modules of ours.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function packageRoot(): string {
  for (let d = __dirname; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'src', 'faults', 'programs'))) return d;
    if (path.dirname(d) === d) throw new Error(`cannot find the xctl package root above ${__dirname}`);
  }
}

export type FaultProgram = 'tcp-sink.js' | 'tcp-sender.js';

export function faultProgram(name: FaultProgram): string {
  return path.join(packageRoot(), 'src', 'faults', 'programs', name);
}
