/**
 * A small client of the Prometheus HTTP API (/api/v1/query, /api/v1/query_range)
 * over Node's fetch: the fleet's data plane for job-level answers. Failures say
 * which: the server cannot be reached (PrometheusUnreachableError) or it refused
 * the query (PrometheusQueryError); both end a command with exit code 2.
 */
import { UserError } from '../errors';

export class PrometheusUnreachableError extends UserError {
  override name = 'PrometheusUnreachableError';
}
export class PrometheusQueryError extends UserError {
  override name = 'PrometheusQueryError';
}

export type Labels = Record<string, string>;
/** One series of an instant vector: its labels and value. */
export interface InstantSample {
  labels: Labels;
  value: number;
  /** Unix seconds of the sample (the evaluation time) */
  t: number;
}
/** One series of a range query: its labels and [t, value] points. */
export interface RangeSeries {
  labels: Labels;
  points: [number, number][];
}

interface ApiReply {
  status: 'success' | 'error';
  data?: { resultType: string; result: { metric: Labels; value?: [number, string]; values?: [number, string][] }[] };
  errorType?: string;
  error?: string;
}

export class PrometheusClient {
  readonly base: string;

  constructor(
    url: string,
    private readonly timeoutMs = 10_000,
  ) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new PrometheusQueryError(`--prometheus "${url}" is not a URL (e.g. http://prometheus:9090)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PrometheusQueryError(`--prometheus "${url}": http or https only`);
    this.base = u.toString().replace(/\/+$/, '');
  }

  /** An instant query (at `time`, Unix seconds; default now). */
  async query(expr: string, time?: number): Promise<InstantSample[]> {
    const params: Record<string, string> = { query: expr };
    if (time !== undefined) params.time = String(time);
    const data = await this.call('/api/v1/query', params);
    if (data.resultType !== 'vector') throw new PrometheusQueryError(`query "${expr}": expected a vector, got ${data.resultType}`);
    return data.result.map((r) => ({ labels: r.metric, value: Number(r.value![1]), t: Number(r.value![0]) }));
  }

  /** A range query over [start, end] (Unix seconds) at `step` seconds. */
  async queryRange(expr: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
    const data = await this.call('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(step) });
    if (data.resultType !== 'matrix') throw new PrometheusQueryError(`range query "${expr}": expected a matrix, got ${data.resultType}`);
    return data.result.map((r) => ({
      labels: r.metric,
      points: (r.values ?? []).map(([t, v]) => [Number(t), Number(v)] as [number, number]),
    }));
  }

  private async call(path: string, params: Record<string, string>): Promise<NonNullable<ApiReply['data']>> {
    const url = `${this.base}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why =
        err.name === 'TimeoutError' ? `no answer in ${this.timeoutMs / 1000} s` : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new PrometheusUnreachableError(`Prometheus at ${this.base} is unreachable: ${why}`);
    }
    const text = await res.text();
    let body: ApiReply;
    try {
      body = JSON.parse(text) as ApiReply;
    } catch {
      throw new PrometheusUnreachableError(
        `${this.base} did not answer as the Prometheus API (HTTP ${res.status} on ${path}: ${text.slice(0, 120).trim() || 'empty body'})`,
      );
    }
    if (body.status !== 'success' || !body.data)
      throw new PrometheusQueryError(
        `Prometheus refused ${path} "${params.query}": ${body.errorType ?? 'error'}: ${body.error ?? `HTTP ${res.status}`}`,
      );
    return body.data;
  }
}

/** A PromQL string literal. */
export function promString(s: string): string {
  return JSON.stringify(s);
}
