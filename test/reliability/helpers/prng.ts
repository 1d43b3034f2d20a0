/** A small seeded PRNG (mulberry32): the same seed gives the same trials. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from `variable`, or a fixed default: printed by each randomized test so a run can be repeated. */
export function seedFrom(variable: string, fallback: number): number {
  const text = process.env[variable];
  if (text === undefined || text === '') return fallback;
  const seed = Number(text);
  if (!Number.isInteger(seed))
    throw new Error(`${variable} must be an integer, got ${JSON.stringify(text)}`);
  return seed;
}

/** A trial count from `variable`, at least `minimum` unless the variable says otherwise. */
export function countFrom(variable: string, minimum: number): number {
  const text = process.env[variable];
  if (text === undefined || text === '') return minimum;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${variable} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}
