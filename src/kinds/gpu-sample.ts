/** One NVML sample of one GPU per interval (native/nvml.cc); header comm = the GPU name. */
import { OFFSETS as O, COMM_LEN, GPU_UUID_LEN, GPU_V_MEM, GPU_V_POWER, GPU_V_TEMP, GPU_V_UTIL } from '../events/layout';
import { MI } from '../graph/vocabulary';
import type { EventBase } from './event';
import { fmtBytes } from '../events/units-text';
import { defineKind } from './kind';

/** NVML clock event reasons that mean throttling: SwPowerCap, HwSlowdown, SwThermal, HwThermal, HwPowerBrake */
export const CLOCK_REASONS_THROTTLE = 0x4 | 0x8 | 0x20 | 0x40 | 0x80;

export interface GpuSampleEvent extends EventBase {
  kind: 'gpu_sample'; // header comm = GPU name (truncated), pid 0
  gpu: number;
  uuid: string; // first 8 hex digits of the UUID
  uuid_hash: number;
  mem_used: number;
  mem_total: number;
  util_gpu: number;
  util_mem: number;
  temp_c: number;
  power_mw: number;
  clock_reasons: number;
  ecc_sbe: number;
  ecc_dbe: number;
  remap_pending: boolean;
  pcie_replays: number;
  valid: number;
}

export const kind = defineKind<'gpu_sample', GpuSampleEvent>({
  name: 'gpu_sample',
  family: 'gpu',
  event(b, i, e) {
    return {
      ...e,
      kind: 'gpu_sample',
      gpu: b.u32(i, O['gpu.gpu']),
      uuid: b.str(i, O['gpu.uuid'], GPU_UUID_LEN),
      uuid_hash: b.u32(i, O['gpu.uuid_hash']),
      mem_used: b.u64Number(i, O['gpu.mem_used']),
      mem_total: b.u64Number(i, O['gpu.mem_total']),
      util_gpu: b.u8(i, O['gpu.util_gpu']),
      util_mem: b.u8(i, O['gpu.util_mem']),
      temp_c: b.u8(i, O['gpu.temp_c']),
      power_mw: b.u32(i, O['gpu.power_mw']),
      clock_reasons: b.u64Number(i, O['gpu.clock_reasons']),
      ecc_sbe: b.u64Number(i, O['gpu.ecc_sbe']),
      ecc_dbe: b.u64Number(i, O['gpu.ecc_dbe']),
      remap_pending: b.u8(i, O['gpu.remap_pending']) !== 0,
      pcie_replays: b.u32(i, O['gpu.pcie_replays']),
      valid: b.u16(i, O['gpu.valid']),
    };
  },
  text(ev) {
    let s = `gpu ${ev.gpu} ${ev.uuid ? `GPU-${ev.uuid} ` : ''}mem ${fmtBytes(ev.mem_used)}/${fmtBytes(ev.mem_total)} util ${ev.util_gpu} % mem-util ${ev.util_mem} % ${ev.temp_c} C`;
    if (ev.valid & GPU_V_POWER) s += ` ${(ev.power_mw / 1000).toFixed(1)} W`;
    if (ev.clock_reasons) s += ` clocks 0x${ev.clock_reasons.toString(16)}`;
    if (ev.ecc_sbe || ev.ecc_dbe) s += ` ecc sbe ${ev.ecc_sbe} dbe ${ev.ecc_dbe}`;
    if (ev.remap_pending) s += ' row-remap pending';
    if (ev.pcie_replays) s += ` pcie-replays ${ev.pcie_replays}`;
    return s;
  },
  ingest(ing, b, i, t) {
    const g = ing.graph.gpu(b.u32(i, O['gpu.gpu']));
    g.seen(t);
    if (g.uuid === '') g.uuid = b.str(i, O['gpu.uuid'], GPU_UUID_LEN);
    if (g.name === '') g.name = b.str(i, O['hdr.comm'], COMM_LEN); // the sampler puts the GPU name in comm
    g.lost = undefined; // it answered
    const valid = b.u16(i, O['gpu.valid']);
    if (valid & GPU_V_MEM) {
      g.memUsed = b.u64Number(i, O['gpu.mem_used']);
      g.memTotal = b.u64Number(i, O['gpu.mem_total']);
      if (g.memTotal > 0) {
        ing.observe(g, MI.gpuMemUsedFrac, t, g.memUsed / g.memTotal);
      }
    }
    if (valid & GPU_V_UTIL) {
      g.util = b.u8(i, O['gpu.util_gpu']) / 100;
      ing.observe(g, MI.gpuUtil, t, g.util);
    }
    if (valid & GPU_V_TEMP) {
      g.tempC = b.u8(i, O['gpu.temp_c']);
      ing.observe(g, MI.gpuTemp, t, g.tempC);
    }
    if (valid & GPU_V_POWER) {
      g.powerW = b.u32(i, O['gpu.power_mw']) / 1000;
      ing.observe(g, MI.gpuPowerW, t, g.powerW);
    }
    g.clockReasons = b.u64Number(i, O['gpu.clock_reasons']);
    ing.observe(g, MI.gpuThrottle, t, g.clockReasons & CLOCK_REASONS_THROTTLE ? 1 : 0);
    for (const [pid, m] of g.procMem) if (t - m.tNs > 10e9) g.procMem.delete(pid); // it let go of the GPU
    ing.graph.noteAttr(g);
  },
});
