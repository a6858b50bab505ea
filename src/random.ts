/**
 * Seeded pseudo-random numbers (xoshiro128**, seeded through splitmix32), so a seed makes
 * initialisation, shuffling and dropout repeatable. `setSeed` reseeds the global generator like
 * `keras.utils.set_random_seed`.
 */
import { ValueError, describe } from './errors';

/** A {@link Random}'s state, from `snapshot()`. */
export interface RandomState {
  readonly s: readonly [number, number, number, number];
  readonly spare: number | null;
}

/** Seeded generator (xoshiro128**). `new Random(seed)` gives a repeatable stream; without a seed it starts from the clock. */
export class Random {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  constructor(seed: number = Date.now() ^ (Math.random() * 0x100000000)) {
    this.seed(seed);
  }

  /**
   * Reseed this generator with an integer (a safe one, |seed| < 2^53, as Keras requires an integer
   * seed); the stream then repeats exactly, and distinct seeds give distinct streams.
   */
  seed(seed: number): void {
    checkSeed('Random', seed);
    // The low 32 bits seed splitmix32 (seeds 0 .. 2^32 - 1 keep the streams they always had); the
    // high bits, sign included (-1 is 0xffffffff high, 0xffffffff low), perturb the state below.
    let x = seed >>> 0;
    const high = Math.floor(seed / 0x100000000) >>> 0;
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if (high !== 0) {
      x = high ^ 0x5bd1e995;
      this.s0 ^= next();
      this.s1 ^= next();
      this.s2 ^= next();
      this.s3 ^= next();
      if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;  // xoshiro's one forbidden state
    }
    this.spare = null;
  }

  /** The generator's whole state, for {@link restore}: what it will draw next is determined by it. */
  snapshot(): RandomState {
    return { s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare };
  }

  /** Put the generator back to a {@link snapshot}: it then draws again what it drew after it. */
  restore(state: RandomState): void {
    [this.s0, this.s1, this.s2, this.s3] = state.s;
    this.spare = state.spare;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal (Box-Muller, the second value kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends {
    /** Number of elements. */
    length: number;
    [i: number]: number;
  }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The generator used when no seed is given to an initializer, a shuffle or a dropout. */
export const globalRandom = new Random();

/**
 * Check an optional seed option: an integer, |seed| < 2^53 (Keras: "Argument `seed` must be an
 * integer"). `where` names the layer, initializer or function for the error.
 */
export function checkSeed(where: string, seed: unknown): asserts seed is number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new ValueError(`${where}: seed must be an integer (|seed| < 2^53), received seed=${describe(seed)}`);
  }
}

/** Seed the global generator: after this, model building and training repeat exactly. Keras: `keras.utils.set_random_seed`. */
export function setSeed(seed: number): void {
  checkSeed('setSeed', seed);
  globalRandom.seed(seed);
}

/** The generator for an optional per-call seed. */
export function rngFor(seed: number | undefined): Random {
  return seed === undefined ? globalRandom : new Random(seed);
}
