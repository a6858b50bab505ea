/**
 * Batch-normalization folding: at inference a BatchNormalization layer is a per-feature affine map
 *   BN(z) = s * z + t,   s = gamma / sqrt(moving_variance + epsilon),   t = beta - s * moving_mean
 * (Keras 3's rule: epsilon inside the square root), so it can be merged into an adjacent Dense:
 *
 *   backward, Dense (linear) -> BN:   W' = W diag(s)   (column j times s_j),  b' = s * (b - mean) + beta
 *   forward,  BN -> Dense:            W' = diag(s) W   (row p times s_p),     b' = b + t W
 *
 * `foldBatchNorm(model)` returns a new, equivalent Sequential (in inference mode) with the BN
 * layers gone. A BN right after a Dense with linear activation folds into it; when an `Activation`
 * layer follows that BN, it becomes the Dense's activation. Any other BN whose next layer is a
 * Dense (the first layer, after a Flatten, after a nonlinearity) folds forward into that Dense.
 * A BN that normalizes some axis other than the last, or that has no Dense beside it, is kept;
 * `foldBatchNormReport(model)` lists what folds where and why the rest is kept.
 * The arithmetic runs in float64 and is rounded once to float32.
 */
import { Tensor } from '../tensor';
import { Layer, SymbolicShape } from '../layers/layer';
import { Dense } from '../layers/dense';
import { Activation } from '../layers/activation';
import { BatchNormalization } from '../layers/normalization';
import { layerFromConfig, serializeLayer } from '../layers/serialization';
import '../layers'; // every layer class registers itself for layerFromConfig
import { Sequential } from '../models/sequential';
import { StateError, ValueError, describe } from '../errors';

/** A BatchNormalization layer that {@link foldBatchNorm} merged into a neighbouring Dense. */
export interface FoldedBatchNorm {
  /** Name of the BatchNormalization layer that disappeared. */
  batchNormalization: string;
  /** Name of the Dense layer that absorbed it. */
  into: string;
  /** 'backward': into the preceding Dense; 'forward': into the following one. */
  direction: 'backward' | 'forward';
  /** Name of the Activation layer fused into that Dense as its activation, if any. */
  fusedActivation?: string;
}

/** A BatchNormalization layer that could not be folded, and why. */
export interface KeptBatchNorm {
  /** Name of the BatchNormalization layer kept. */
  batchNormalization: string;
  /** Why it could not be folded (e.g. no adjacent Dense it can be merged into). */
  reason: string;
}

/** What {@link foldBatchNormReport} found: the layers folded and those kept. */
export interface FoldReport {
  /** BatchNormalization layers merged into a Dense. */
  folded: FoldedBatchNorm[];
  /** BatchNormalization layers left in place. */
  kept: KeptBatchNorm[];
  /** Layer count of the original model. */
  layersBefore: number;
  /** Layer count of the folded model. */
  layersAfter: number;
}

/** A Dense of the new model and what to apply to its weights, in order. */
interface DenseEntry {
  kind: 'dense';
  source: Dense;
  /** Affine maps to apply to the weights, in order. */
  steps: { bn: BatchNormalization; direction: 'backward' | 'forward' }[];
  activation: string;
}

interface CopyEntry {
  kind: 'copy';
  source: Layer;
}

type Entry = DenseEntry | CopyEntry;

interface Plan {
  entries: Entry[];
  report: FoldReport;
}

function checkModel(model: unknown, where: string): asserts model is Sequential {
  if (!(model instanceof Sequential)) throw new ValueError(`${where}: expected a Sequential model, received ${describe(model)}`);
  if (!model.inputShape) {
    throw new StateError(
      `${where}: Sequential "${model.name}" is not built; give its first layer an inputShape, or call build() or fit() first`,
    );
  }
}

/** Why this BN cannot be folded at all (null when it normalizes the last axis of its input). */
function axisProblem(bn: BatchNormalization, inputShape: SymbolicShape): string | null {
  const rank = inputShape.length;
  const axes = (typeof bn.axis === 'number' ? [bn.axis] : [...bn.axis]).map((a) => (a < 0 ? a + rank : a));
  if (axes.length === 1 && axes[0] === rank - 1) return null;
  return `it normalizes axis ${describe(bn.axis)} of input rank ${rank}, not the last (feature) axis a Dense reads`;
}

function plan(model: Sequential): Plan {
  const layers = model.layers;
  // Input shape of each layer.
  const shapes: SymbolicShape[] = [];
  let shape = model.inputShape!;
  for (const l of layers) {
    shapes.push(shape);
    shape = l.computeOutputShape(shape);
  }
  const entries: Entry[] = [];
  const folded: FoldedBatchNorm[] = [];
  const kept: KeptBatchNorm[] = [];
  // BNs waiting to fold forward into the next layer (which is a Dense).
  let pendingForward: BatchNormalization | null = null;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    if (layer instanceof BatchNormalization) {
      const problem = axisProblem(layer, shapes[i]!);
      const last = entries[entries.length - 1];
      const next = layers[i + 1];
      if (problem) {
        kept.push({ batchNormalization: layer.name, reason: problem });
        entries.push({ kind: 'copy', source: layer });
      } else if (last?.kind === 'dense' && last.activation === 'linear') {
        last.steps.push({ bn: layer, direction: 'backward' });
        const record: FoldedBatchNorm = { batchNormalization: layer.name, into: last.source.name, direction: 'backward' };
        if (next instanceof Activation) {
          last.activation = next.activation.name;
          record.fusedActivation = next.name;
          i++;
        }
        folded.push(record);
      } else if (next instanceof Dense) {
        pendingForward = layer;
        folded.push({ batchNormalization: layer.name, into: next.name, direction: 'forward' });
      } else {
        const after = last ? `after ${last.source.describeSelf()}` : 'as the first layer';
        const before = next ? `before ${next.describeSelf()}` : 'as the last layer';
        kept.push({
          batchNormalization: layer.name,
          reason: `no Dense to fold into: it comes ${after} (not a Dense with linear activation) and ${before} (not a Dense)`,
        });
        entries.push({ kind: 'copy', source: layer });
      }
      continue;
    }
    if (layer instanceof Dense) {
      const steps: DenseEntry['steps'] = pendingForward ? [{ bn: pendingForward, direction: 'forward' }] : [];
      pendingForward = null;
      entries.push({ kind: 'dense', source: layer, steps, activation: layer.activation.name });
      continue;
    }
    entries.push({ kind: 'copy', source: layer });
  }
  return { entries, report: { folded, kept, layersBefore: layers.length, layersAfter: entries.length } };
}

/** What `foldBatchNorm` would do to this model, without building anything. */
export function foldBatchNormReport(model: Sequential): FoldReport {
  checkModel(model, 'foldBatchNormReport');
  return plan(model).report;
}

/** s = gamma / sqrt(var + eps) and t = beta - s * mean, in float64. */
function affineOf(bn: BatchNormalization): { s: Float64Array; t: Float64Array } {
  const mean = bn.movingMean!.data, variance = bn.movingVariance!.data;
  const C = mean.length;
  const s = new Float64Array(C), t = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const gamma = bn.gamma ? bn.gamma.data[c]! : 1;
    const beta = bn.beta ? bn.beta.data[c]! : 0;
    s[c] = gamma / Math.sqrt(variance[c]! + bn.epsilon);
    t[c] = beta - s[c]! * mean[c]!;
  }
  return { s, t };
}

/** The folded kernel [k, n] and bias [n] of a Dense entry, in float64. */
function foldedWeights(entry: DenseEntry): { kernel: Float64Array; bias: Float64Array; k: number; n: number } {
  const dense = entry.source;
  const [k, n] = dense.kernel!.shape as [number, number];
  const kernel = Float64Array.from(dense.kernel!.data);
  const bias = dense.bias ? Float64Array.from(dense.bias.data) : new Float64Array(n);
  for (const { bn, direction } of entry.steps) {
    const { s, t } = affineOf(bn);
    if (direction === 'backward') {
      // y = BN(x W + b) = x (W diag(s)) + (s * b + t)
      for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) kernel[p * n + j] *= s[j]!;
      for (let j = 0; j < n; j++) bias[j] = s[j]! * bias[j]! + t[j]!;
    } else {
      // y = (s * x + t) W + b = x (diag(s) W) + (b + t W)
      for (let p = 0; p < k; p++) {
        const tp = t[p]!;
        for (let j = 0; j < n; j++) bias[j] += tp * kernel[p * n + j]!;
      }
      for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) kernel[p * n + j] *= s[p]!;
    }
  }
  return { kernel, bias, k, n };
}

/**
 * A new Sequential equal to `model` in inference mode, with its BatchNormalization layers folded
 * into adjacent Dense layers (see the file comment). The input model is not changed; the new
 * layers keep their names.
 */
export function foldBatchNorm(model: Sequential): Sequential {
  checkModel(model, 'foldBatchNorm');
  const { entries } = plan(model);
  const inputShape = model.inputShape!;
  const layers = entries.map((e, i) => {
    const spec = serializeLayer(e.source);
    const config = { ...spec.config };
    if (e.kind === 'dense' && e.steps.length > 0) {
      config.use_bias = true;
      config.activation = e.activation;
    }
    // The first layer of the folded model carries the input shape even if a BN had it before.
    if (i === 0) config.batch_input_shape = [...inputShape];
    return layerFromConfig({ class_name: spec.class_name, config });
  });
  const out = new Sequential(layers, { name: model.name });
  if (!out.built) out.build(inputShape);
  entries.forEach((e, i) => {
    const copy = layers[i]!;
    if (e.kind === 'dense' && e.steps.length > 0) {
      const { kernel, bias, k, n } = foldedWeights(e);
      copy.setWeights([new Tensor(Float32Array.from(kernel), [k, n]), new Tensor(Float32Array.from(bias), [n])]);
    } else {
      copy.setWeights(e.source.getWeights());
    }
  });
  return out;
}
