/**
 * The Xid catalog (rules/xid-catalog.yaml): Xid number -> meaning, action and
 * whether it is an application error. Data, not code: loaded once, lazily, and
 * reloadable; an unknown Xid still renders ("Xid 999: not in the catalog").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

export interface XidInfo {
  meaning: string;
  action: string;
  app_error: boolean;
}

let cache: Map<number, XidInfo> | undefined;
let cacheFile = '';

export function xidCatalogPath(): string {
  return process.env.XCTL_XID_CATALOG ?? path.resolve(__dirname, '../../../rules/xid-catalog.yaml');
}

/** Parses a catalog text; throws with the offending entry on bad data. */
export function parseXidCatalog(text: string): Map<number, XidInfo> {
  const doc = parse(text) as { xids?: Record<string, Partial<XidInfo>> } | null;
  const out = new Map<number, XidInfo>();
  for (const [k, v] of Object.entries(doc?.xids ?? {})) {
    const n = Number(k);
    if (!Number.isInteger(n) || !v || typeof v.meaning !== 'string' || typeof v.action !== 'string')
      throw new Error(`xid catalog: entry ${k} needs an integer key, a meaning and an action`);
    out.set(n, { meaning: v.meaning, action: v.action, app_error: v.app_error === true });
  }
  return out;
}

export function xidInfo(xid: number, file = xidCatalogPath()): XidInfo | undefined {
  if (!cache || cacheFile !== file) {
    try {
      cache = parseXidCatalog(fs.readFileSync(file, 'utf8'));
    } catch {
      cache = new Map();
    }
    cacheFile = file;
  }
  return cache.get(xid);
}
