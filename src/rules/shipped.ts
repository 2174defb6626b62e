/** Where the rules shipped with xctl are. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The package's own rules/ directory: next to the package.json above this module. */
export function defaultRulesDir(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'rules');
    const up = path.dirname(dir);
    if (up === dir) return path.resolve('rules');
    dir = up;
  }
}
