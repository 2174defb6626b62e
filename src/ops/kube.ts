/**
 * Publishes fatal GPU conditions to Kubernetes: a node condition
 * (`XctlGpuFatal`, PATCHed into /api/v1/nodes/NAME/status as a strategic
 * merge patch, which merges conditions by type) and an Event on the node.
 * Uses the pod's service account (KUBERNETES_SERVICE_HOST/PORT, the token and
 * CA in /var/run/secrets/kubernetes.io/serviceaccount) and Node's https; no
 * client library. Enabled only by config `kubernetes.node_conditions: true`.
 * RBAC: deploy/kubernetes/daemonset.yaml (nodes/status patch, events create).
 */
import { XctlError } from '../errors';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import type { Logger } from 'pino';
import type { AgentMetrics } from './metrics';

export const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const CONDITION_TYPE = 'XctlGpuFatal';

export interface KubeClientOptions {
  /** https://host:port (http:// only when allowInsecureHttp, for tests) */
  baseUrl: string;
  token?: string;
  ca?: string | Buffer;
  nodeName: string;
  namespace?: string;
  timeoutMs?: number;
  allowInsecureHttp?: boolean;
}

export interface NodeCondition {
  type?: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export class KubeError extends XctlError {
  override name = 'KubeError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export class KubeClient {
  constructor(readonly opts: KubeClientOptions) {
    const u = new URL(opts.baseUrl);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && opts.allowInsecureHttp))
      throw new KubeError(`kubernetes API must be https: ${opts.baseUrl}`);
  }

  /** In-cluster configuration from the service account; throws KubeError naming what is missing. */
  static inCluster(nodeName: string, env: NodeJS.ProcessEnv = process.env, saDir = SA_DIR): KubeClient {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT || '443';
    if (!host) throw new KubeError('kubernetes.node_conditions is on but KUBERNETES_SERVICE_HOST is not set (not running in a pod?)');
    let token: string;
    try {
      token = fs.readFileSync(path.join(saDir, 'token'), 'utf8').trim();
    } catch (e) {
      throw new KubeError(
        `cannot read the service account token in ${saDir}: ${(e as Error).message} (automountServiceAccountToken must be true)`,
      );
    }
    const caFile = path.join(saDir, 'ca.crt');
    const ca = fs.existsSync(caFile) ? fs.readFileSync(caFile) : undefined;
    const h = host.includes(':') ? `[${host}]` : host;
    let namespace = 'default';
    try {
      namespace = fs.readFileSync(path.join(saDir, 'namespace'), 'utf8').trim() || 'default';
    } catch {
      /* default */
    }
    return new KubeClient({ baseUrl: `https://${h}:${port}`, token, ca, nodeName, namespace });
  }

  request(method: string, urlPath: string, body: unknown, contentType = 'application/json'): Promise<unknown> {
    const u = new URL(urlPath, this.opts.baseUrl);
    const data = Buffer.from(JSON.stringify(body));
    const lib = u.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        u,
        {
          method,
          ca: this.opts.ca,
          timeout: this.opts.timeoutMs ?? 5000,
          headers: {
            'content-type': contentType,
            'content-length': data.length,
            accept: 'application/json',
            'user-agent': 'xctl-agent',
            ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 0) >= 300)
              return reject(new KubeError(`${method} ${u.pathname}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`, res.statusCode));
            try {
              resolve(text ? JSON.parse(text) : {});
            } catch {
              resolve(text);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new KubeError(`${method} ${u.pathname}: timed out`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /** PATCH /api/v1/nodes/NAME/status with one condition (merged by type). */
  setNodeCondition(c: NodeCondition, now = new Date()): Promise<unknown> {
    const t = now.toISOString().replace(/\.\d+Z$/, 'Z');
    const body = {
      status: {
        conditions: [
          {
            type: c.type ?? CONDITION_TYPE,
            status: c.status,
            reason: c.reason,
            message: c.message,
            lastHeartbeatTime: t,
            lastTransitionTime: t,
          },
        ],
      },
    };
    return this.request(
      'PATCH',
      `/api/v1/nodes/${encodeURIComponent(this.opts.nodeName)}/status`,
      body,
      'application/strategic-merge-patch+json',
    );
  }

  /** POST a core/v1 Event about the node. */
  nodeEvent(type: 'Normal' | 'Warning', reason: string, message: string, now = new Date()): Promise<unknown> {
    const ns = this.opts.namespace ?? 'default';
    const t = now.toISOString().replace(/\.\d+Z$/, 'Z');
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `xctl-${this.opts.nodeName}-`.slice(0, 200), namespace: ns },
      involvedObject: { apiVersion: 'v1', kind: 'Node', name: this.opts.nodeName, uid: this.opts.nodeName },
      reason,
      message,
      type,
      source: { component: 'xctl-agent', host: this.opts.nodeName },
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
    };
    return this.request('POST', `/api/v1/namespaces/${encodeURIComponent(ns)}/events`, body);
  }
}

/**
 * Turns the agent's active findings into the node condition: True (with an
 * Event) when a fatal GPU finding appears, False when none is left. A failed
 * PATCH is retried at the next update.
 */
export class NodeConditionPublisher {
  private published: 'True' | 'False' | undefined;
  private inFlight = false;

  constructor(
    private readonly client: KubeClient,
    private readonly logger?: Logger,
    private readonly metrics?: AgentMetrics,
  ) {}

  get state(): string | undefined {
    return this.published;
  }

  /** `fatal`: the active findings whose scene is declared `fatal: true` (scene and cause). */
  async update(fatal: { scene: string; cause: string }[]): Promise<void> {
    const want = fatal.length ? 'True' : 'False';
    if (this.inFlight || want === this.published || (want === 'False' && this.published === undefined)) return;
    this.inFlight = true;
    const message = fatal.length
      ? fatal
          .map((f) => `${f.scene}: ${f.cause}`)
          .join('; ')
          .slice(0, 1000)
      : 'no fatal GPU condition active';
    const reason = fatal.length ? 'GpuFatalError' : 'GpuHealthy';
    try {
      await this.client.setNodeCondition({ status: want, reason, message });
      if (want === 'True') await this.client.nodeEvent('Warning', reason, message);
      this.published = want;
      this.metrics?.kubeUpdates.inc({ outcome: 'ok' });
      this.logger?.info({ condition: CONDITION_TYPE, status: want }, 'kubernetes node condition updated');
    } catch (e) {
      this.metrics?.kubeUpdates.inc({ outcome: 'error' });
      this.logger?.error({ err: e }, 'kubernetes node condition update failed; will retry');
    } finally {
      this.inFlight = false;
    }
  }
}
