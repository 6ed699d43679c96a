// mulberry32: deterministic pseudo-random numbers in [0, 1). Plain JS so the child-process
// scripts (.mjs), the TypeScript tests and the benchmark data all draw from the same one.

/** A generator of numbers in [0, 1), the same sequence for the same seed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
