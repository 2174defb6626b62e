/** Paths inside the installed package, for defaults every layer may read. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The package's rules/ directory (found from this file, in src/ or dist/src/). */
export function defaultRulesDir(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'rules');
    const up = path.dirname(dir);
    if (up === dir) return path.resolve('rules');
    dir = up;
  }
}
