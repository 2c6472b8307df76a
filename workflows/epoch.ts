// NDB epochs: a 64-bit number, (GCI << 32) | micro-GCI, also written `gci/micro`. Epochs are carried
// as decimal strings everywhere (JSON and mysql2 cannot hold 64-bit integers exactly as numbers).

const MAX_EPOCH = (1n << 64n) - 1n;

/** Parses `4294967299` or `1/3` into the epoch's decimal string; throws a readable error otherwise. */
export function parseEpoch(text: string | number): string {
  const t = String(text).trim();
  const slash = /^(\d{1,10})\/(\d{1,10})$/.exec(t);
  if (slash) {
    const gci = BigInt(slash[1]!);
    const micro = BigInt(slash[2]!);
    if (gci > 0xffffffffn || micro > 0xffffffffn)
      throw new Error(`epoch ${t}: GCI and micro-GCI must fit in 32 bits`);
    return ((gci << 32n) | micro).toString();
  }
  if (/^\d{1,20}$/.test(t) && BigInt(t) <= MAX_EPOCH) return BigInt(t).toString();
  throw new Error(
    `not an NDB epoch: ${JSON.stringify(t)} (use the 64-bit number, e.g. 4294967299, or gci/micro, e.g. 1/3)`,
  );
}

export function isEpoch(text: string | number): boolean {
  try {
    parseEpoch(text);
    return true;
  } catch {
    return false;
  }
}

/** `gci/micro` form of an epoch (for messages). */
export function formatEpoch(epoch: string | bigint): string {
  const e = BigInt(epoch);
  return `${e >> 32n}/${e & 0xffffffffn}`;
}

export function compareEpochs(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
