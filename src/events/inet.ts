/**
 * Address text for tcp_retransmit records, from the raw 16-byte fields
 * (IPv4 in the first 4 bytes). Reads the bytes in place: no sub-views.
 */

export const AF_INET = 2;
export const AF_INET6 = 10;

/** Dotted quad from bytes[off..off+4). */
export function ipv4Text(bytes: Uint8Array, off: number): string {
  return `${bytes[off] ?? 0}.${bytes[off + 1] ?? 0}.${bytes[off + 2] ?? 0}.${bytes[off + 3] ?? 0}`;
}

/**
 * RFC 5952 text from bytes[off..off+16): lowercase hex, no leading zeros, the
 * first longest run of two or more zero groups as "::", and IPv4-mapped
 * addresses (::ffff:0:0/96) in mixed notation.
 */
export function ipv6Text(bytes: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let k = 0; k < 8; k++) g.push(((bytes[off + 2 * k] ?? 0) << 8) | (bytes[off + 2 * k + 1] ?? 0));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${ipv4Text(bytes, off + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let k = 0; k < 8; ) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = (a: number, b: number): string =>
    g
      .slice(a, b)
      .map((x) => x.toString(16))
      .join(':');
  if (bestLen < 2) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Text for a family/address pair; unknown families fall back to IPv6 form. */
export function addrText(family: number, bytes: Uint8Array, off: number): string {
  return family === AF_INET ? ipv4Text(bytes, off) : ipv6Text(bytes, off);
}
