/**
 * Prometheus exposition (prom-client) and health endpoints. Series follow
 * Prometheus naming (xctl_..._total, base units) and carry no pid labels:
 * cardinality is bounded by kinds, families, scenes and rules.
 */
import * as http from 'node:http';
import * as client from 'prom-client';

export class AgentMetrics {
  readonly registry = new client.Registry();
  readonly events: client.Counter<'kind'>;
  readonly drops: client.Gauge<'family' | 'side'>;
  readonly records: client.Gauge<'what'>;
  readonly graphNodes: client.Gauge<'kind'>;
  readonly evictions: client.Gauge<'kind'>;
  readonly findings: client.Gauge<'scene'>;
  readonly ruleEvaluations: client.Gauge;
  readonly whyDuration: client.Histogram;
  readonly probeAttached: client.Gauge<'family' | 'program'>;
  ready = false;

  constructor() {
    const r = [this.registry];
    this.events = new client.Counter({ name: 'xctl_events_total', help: 'Records ingested, by kind', labelNames: ['kind'], registers: r });
    this.drops = new client.Gauge({ name: 'xctl_ring_drops', help: 'Records lost: kernel ring reservation failures by family, and user-side drops', labelNames: ['family', 'side'], registers: r });
    this.records = new client.Gauge({ name: 'xctl_ring', help: 'Addon counters: records, batches, bytes, wakeups delivered so far', labelNames: ['what'], registers: r });
    this.graphNodes = new client.Gauge({ name: 'xctl_graph_nodes', help: 'Causal graph size by node kind', labelNames: ['kind'], registers: r });
    this.evictions = new client.Gauge({ name: 'xctl_graph_evictions', help: 'Graph nodes and edges evicted so far (caps, grace periods, pid reuse)', labelNames: ['kind'], registers: r });
    this.findings = new client.Gauge({ name: 'xctl_findings_active', help: 'Entities with an active finding, by scene', labelNames: ['scene'], registers: r });
    this.ruleEvaluations = new client.Gauge({ name: 'xctl_rule_evaluations', help: 'Rule evaluations so far', registers: r });
    this.whyDuration = new client.Histogram({
      name: 'xctl_why_duration_seconds',
      help: 'Time to answer why',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: r,
    });
    this.probeAttached = new client.Gauge({ name: 'xctl_probe_attached', help: '1 if the BPF program is attached', labelNames: ['family', 'program'], registers: r });
  }

  /** Serves /metrics, /healthz, /readyz on host:port. */
  serve(addr: string): Promise<http.Server> {
    const m = /^(.*):(\d+)$/.exec(addr);
    if (!m) throw new Error(`bad --metrics-addr "${addr}": expected HOST:PORT, e.g. 127.0.0.1:9464`);
    const host = m[1]!.replace(/^\[|\]$/g, '');
    const port = Number(m[2]);
    const server = http.createServer((req, res) => {
      if (req.url === '/metrics') {
        this.registry.metrics().then(
          (body) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(body);
          },
          (e: Error) => {
            res.writeHead(500);
            res.end(e.message);
          },
        );
      } else if (req.url === '/healthz') {
        res.writeHead(200);
        res.end('ok\n');
      } else if (req.url === '/readyz') {
        res.writeHead(this.ready ? 200 : 503);
        res.end(this.ready ? 'ready\n' : 'starting\n');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve(server));
    });
  }
}
