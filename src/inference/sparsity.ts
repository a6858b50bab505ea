/**
 * Magnitude pruning, the chapter's "sparse models" advice: after training with an l1 penalty many
 * kernel weights are tiny; zeroing them changes the outputs little and leaves a sparse model.
 *
 * Only kernels are counted and pruned (weights named ".../kernel", and the kernels of
 * QuantizedDense layers): biases and BatchNormalization parameters are few and not worth it.
 */
import { Layer } from '../layers/layer';
import { Sequential } from '../models/sequential';
import { QuantizedDense } from './quantize';
import { ValueError, checkOptions, describe } from '../errors';

/** Zero count of one Dense kernel. */
export interface LayerSparsity {
  /** Layer name. */
  layer: string;
  /** The weight's full name, e.g. 'dense_1/kernel'. */
  weight: string;
  /** Elements of the kernel. */
  total: number;
  /** Of which exactly zero. */
  zeros: number;
  /** zeros / total (0 for an empty kernel). */
  fraction: number;
}

/** Zero counts of the model's Dense kernels (biases are not counted). */
export interface SparsityReport {
  /** Kernel weights in the model. */
  total: number;
  /** Of which exactly zero. */
  zeros: number;
  /** zeros / total (0 when the model has no kernel). */
  fraction: number;
  /** One entry per Dense (or QuantizedDense) kernel, in layer order. */
  perLayer: LayerSparsity[];
}

/**
 * Zero the kernel weights whose magnitude is below `threshold`, or the `fraction` of each kernel
 * with the smallest magnitudes (floor(fraction * size) weights, ties broken by position, weights
 * already zero counting among them).
 */
export type PruneOptions =
  | {
      /** Zero the weights whose magnitude is below this value. */
      threshold: number;
      /** Not allowed together with `threshold`. */
      fraction?: undefined;
    }
  | {
      /** Fraction of each kernel, in [0, 1], to zero (the smallest magnitudes). */
      fraction: number;
      /** Not allowed together with `fraction`. */
      threshold?: undefined;
    };

/** A kernel seen as float magnitudes, with a way to zero entries (float32 or quantized storage). */
interface KernelView {
  layer: string;
  weight: string;
  size: number;
  magnitude(i: number): number;
  isZero(i: number): boolean;
  zero(i: number): void;
}

function kernelsOf(layer: Layer): KernelView[] {
  if (layer instanceof QuantizedDense) {
    if (!layer.built) return [];
    const weight = `${layer.name}/kernel`;
    if (layer.kernelFloat16) {
      const h = layer.kernelFloat16;
      const f = layer.dequantizedKernel().data;
      return [{
        layer: layer.name, weight, size: h.length,
        magnitude: (i) => Math.abs(f[i]!),
        isZero: (i) => (h[i]! & 0x7fff) === 0,
        zero: (i) => (h[i] = 0),
      }];
    }
    const q = layer.kernelInt8!, s = layer.scales!, n = layer.units;
    return [{
      layer: layer.name, weight, size: q.length,
      magnitude: (i) => Math.abs(q[i]! * s[i % n]!),
      isZero: (i) => q[i] === 0,
      zero: (i) => (q[i] = 0),
    }];
  }
  return layer.weights
    .filter((w) => w.name.endsWith('/kernel'))
    // Read through the variable each time: a compiled model may have re-packed its data.
    .map((w) => ({
      layer: layer.name, weight: w.name, size: w.size,
      magnitude: (i: number) => Math.abs(w.data[i]!),
      isZero: (i: number) => w.data[i] === 0,
      zero: (i: number) => (w.data[i] = 0),
    }));
}

function checkModel(model: unknown, where: string): asserts model is Sequential {
  if (!(model instanceof Sequential)) throw new ValueError(`${where}: expected a Sequential model, received ${describe(model)}`);
}

/** How many kernel weights are exactly zero, in total and per kernel. */
export function sparsity(model: Sequential): SparsityReport {
  checkModel(model, 'sparsity');
  const perLayer: LayerSparsity[] = [];
  let total = 0, zeros = 0;
  for (const layer of model.layers) {
    for (const k of kernelsOf(layer)) {
      let z = 0;
      for (let i = 0; i < k.size; i++) if (k.isZero(i)) z++;
      perLayer.push({ layer: k.layer, weight: k.weight, total: k.size, zeros: z, fraction: k.size ? z / k.size : 0 });
      total += k.size;
      zeros += z;
    }
  }
  return { total, zeros, fraction: total ? zeros / total : 0, perLayer };
}

/** Zero small kernel weights in place (see PruneOptions); returns the sparsity afterwards. */
export function prune(model: Sequential, options: PruneOptions): SparsityReport {
  checkModel(model, 'prune');
  if (options === null || typeof options !== 'object') {
    throw new ValueError(`prune: expected { threshold } or { fraction }, received ${describe(options)}`);
  }
  checkOptions('prune', options, ['threshold', 'fraction']);
  const { threshold, fraction } = options as { threshold?: unknown; fraction?: unknown };
  if ((threshold === undefined) === (fraction === undefined)) {
    throw new ValueError(
      `prune: give exactly one of threshold and fraction, received threshold=${describe(threshold)}, fraction=${describe(fraction)}`,
    );
  }
  if (threshold !== undefined && (typeof threshold !== 'number' || !(threshold >= 0) || !Number.isFinite(threshold))) {
    throw new ValueError(`prune: threshold must be a finite number >= 0, received threshold=${describe(threshold)}`);
  }
  if (fraction !== undefined && (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1))) {
    throw new ValueError(`prune: fraction must be a number in [0, 1], received fraction=${describe(fraction)}`);
  }
  for (const layer of model.layers) {
    for (const k of kernelsOf(layer)) {
      if (threshold !== undefined) {
        for (let i = 0; i < k.size; i++) if (k.magnitude(i) < (threshold as number)) k.zero(i);
        continue;
      }
      const count = Math.floor((fraction as number) * k.size);
      if (count === 0) continue;
      // The count-th smallest magnitude: everything below it goes, then ties in index order.
      const mags = new Float64Array(k.size);
      for (let i = 0; i < k.size; i++) mags[i] = k.magnitude(i);
      const cut = Float64Array.from(mags).sort()[count - 1]!;
      let zeroed = 0;
      for (let i = 0; i < k.size; i++) {
        if (mags[i]! < cut) {
          k.zero(i);
          zeroed++;
        }
      }
      for (let i = 0; i < k.size && zeroed < count; i++) {
        if (mags[i] === cut) {
          k.zero(i);
          zeroed++;
        }
      }
    }
  }
  return sparsity(model);
}
