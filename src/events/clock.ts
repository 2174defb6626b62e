/**
 * Boot time -> wall clock. Records carry CLOCK_BOOTTIME ns (it keeps counting
 * across suspend and never jumps); wall time = boot + offset. The offset is
 * sampled once when a session starts and stored in recordings, so replay shows
 * the wall times of the original host. Boot "now" comes from the addon
 * (loadAddon().bootTimeNs()): pure Node has no CLOCK_BOOTTIME reader, and
 * /proc/uptime is only 10 ms resolution.
 */

export interface BootClock {
  /** wall ns = boot ns + bootToWallOffsetNs */
  readonly bootToWallOffsetNs: bigint;
}

/** Offset from a boot-clock reading taken just now (Date.now() is ms-resolution). */
export function currentBootToWallOffsetNs(bootNowNs: bigint): bigint {
  return BigInt(Date.now()) * 1_000_000n - bootNowNs;
}

export function bootToWallNs(bootNs: bigint, clock: BootClock): bigint {
  return bootNs + clock.bootToWallOffsetNs;
}

/** ISO-8601 UTC with ms; "invalid-time(<ns>)" rather than a throw for out-of-range values. */
export function wallIso(bootNs: bigint, clock: BootClock): string {
  const ms = Number((bootNs + clock.bootToWallOffsetNs) / 1_000_000n);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `invalid-time(${bootNs})` : d.toISOString();
}
