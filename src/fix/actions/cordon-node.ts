import * as fs from 'node:fs';
import * as https from 'node:https';
import type { ActionRunner } from './types';
import { errText } from './types';
/** Cordon (spec.unschedulable) and optionally taint the node through the Kubernetes API, when configured. */
export const cordonNode: ActionRunner = async (step, ctx) => {
  const k = ctx.config.kubernetes;
  if (!k)
    return {
      status: 'unsupported',
      detail:
        'refused: the Kubernetes API is not configured (fix.kubernetes: api_server, token_file, node_name), so the node is not cordoned',
    };
  let token: string;
  try {
    token = fs.readFileSync(k.tokenFile, 'utf8').trim();
  } catch (e) {
    return { status: 'failed', detail: `cannot read the token ${k.tokenFile}: ${errText(e)}` };
  }
  const spec: Record<string, unknown> = { unschedulable: true };
  if (step.params.taint) spec.taints = [{ key: String(step.params.taint), value: 'xctl', effect: 'NoSchedule' }];
  const body = JSON.stringify({ spec });
  const url = new URL(`/api/v1/nodes/${encodeURIComponent(k.nodeName)}`, k.apiServer);
  return new Promise((resolve) => {
    const req = https.request(
      url,
      {
        method: 'PATCH',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/merge-patch+json',
          'content-length': Buffer.byteLength(body),
        },
        ca: k.caFile ? fs.readFileSync(k.caFile) : undefined,
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () =>
          resolve(
            res.statusCode && res.statusCode < 300
              ? { status: 'ok', detail: `node ${k.nodeName} cordoned` }
              : { status: 'failed', detail: `Kubernetes API ${res.statusCode}: ${text.slice(0, 200)}` },
          ),
        );
      },
    );
    req.on('error', (e) => resolve({ status: 'failed', detail: `Kubernetes API: ${errText(e)}` }));
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end(body);
  });
};
