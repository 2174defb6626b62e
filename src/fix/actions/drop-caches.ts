import * as fs from 'node:fs';
import { execArgv, which } from './exec';
import type { ActionRunner } from './types';
import { errText } from './types';
/** sync, then write 1 (page cache only) to /proc/sys/vm/drop_caches. */
export const dropCaches: ActionRunner = async () => {
  const sync = which('sync');
  if (sync) await execArgv(sync, [], 60_000);
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '1');
    return { status: 'ok', detail: 'synced and dropped the clean page cache (vm.drop_caches=1)' };
  } catch (e) {
    return { status: 'failed', detail: `write /proc/sys/vm/drop_caches: ${errText(e)}` };
  }
};
