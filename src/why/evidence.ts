/** Human and JSON renderings of the evidence behind one link of a chain. */
import { formatBytes, formatNs } from '../events/units-text';
import type { Edge, GraphNode } from '../graph/model';
import type { LinkEvidence, NodeRef } from '../engine/answer';

export function ref(n: GraphNode): NodeRef {
  return { type: n.type, id: n.id, label: n.label() };
}

const fmtSum = (unit: string, v: number): string =>
  unit === 'ns' ? formatNs(v) : unit === 'bytes' ? formatBytes(v) : unit === 'segments' ? `${v} segments` : `${v}`;

export function linkEvidence(e: Edge, nowNs: number, windowNs: number): LinkEvidence {
  const nowS = nowNs / 1e9;
  const winS = windowNs / 1e9;
  const inCount = e.series.aggregate('count', nowS, winS) ?? 0;
  const inSum = e.series.aggregate('sum', nowS, winS) ?? 0;
  const age = Math.max(0, (nowNs - e.lastNs) / 1e9);
  let text: string;
  if (e.source === 'procfs') {
    text = e.note ?? 'seen in /proc now';
  } else if (e.to.type === 'peer') {
    text = `${inSum} segments retransmitted in ${inCount} bursts over the last ${winS} s (total ${e.sum}), last ${age.toFixed(1)} s ago`;
  } else if (e.to.type === 'device') {
    text = `${inCount} IOs waited ${formatNs(inSum)} in total over the last ${winS} s (max ${formatNs(e.max)}), last ${age.toFixed(1)} s ago`;
  } else if (e.to.type === 'cpu') {
    text = `waited ${formatNs(inSum)} for a CPU over the last ${winS} s (longest single wait ${formatNs(e.max)})`;
  } else if (e.to.type === 'cgroup') {
    text = `held back ${formatNs(inSum)} by its cgroup over the last ${winS} s (CPU quota throttling and memory stalls, sampled every few seconds), last ${age.toFixed(1)} s ago`;
  } else if (e.to.type === 'process' && e.kind === 'waits_on') {
    text = `slept ${formatNs(inSum)} in ${inCount} waits ended by this process over the last ${winS} s (max ${formatNs(e.max)}), last ${age.toFixed(1)} s ago`;
  } else if (e.kind === 'blocked_by') {
    const what = e.samples[e.samples.length - 1]?.detail;
    text = `${e.count} × ${what ?? e.to.label()}, last ${age.toFixed(1)} s ago`;
  } else {
    text = `${e.count} observations, ${fmtSum(e.unit, e.sum)}`;
  }
  if (e.note && e.source !== 'procfs') text += `; ${e.note}`;
  return {
    count: e.count,
    sum: e.sum,
    max: e.max,
    unit: e.unit,
    first_ts_ns: e.firstNs,
    last_ts_ns: e.lastNs,
    age_s: Number(age.toFixed(3)),
    window_s: winS,
    in_window: { count: inCount, sum: inSum },
    source: e.source,
    note: e.note,
    text,
  };
}
