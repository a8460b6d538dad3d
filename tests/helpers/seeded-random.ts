/**
 * A tiny seeded PRNG (mulberry32) for property-style tests: the same seed
 * always gives the same schedule, so a failure can be replayed by its seed.
 */

/** A seeded source of random choices. */
export interface Random {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (both inclusive). */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: 32-bit state, good enough for shuffling test schedules. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick() from an empty array');
      return items[Math.floor(next() * items.length)] as T;
    },
  };
}

/** `count` fixed seeds derived from `base` (deterministic, spread out). */
export function seeds(count: number, base = 0x5eed): number[] {
  const rng = mulberry32(base);
  return Array.from({ length: count }, () => Math.floor(rng.next() * 0xffffffff));
}
