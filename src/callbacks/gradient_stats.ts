/**
 * gradientStats: the vanishing/exploding-gradient diagnosis made visible. Every epoch (or every N
 * batches) it runs one extra forward and backward pass over a batch and reports, per layer:
 *   grad_norm/<layer>  L2 norm of the gradients of the layer's trainable weights (all of them together)
 *   act_norm/<layer>   root mean square over the batch of the L2 norm of one sample's output,
 *                      sqrt(sum(a^2) / batchSize), so it does not grow with the batch size
 *   dead_relu/<layer>  for ReLU-family outputs (relu, relu6, a ReLU layer with negativeSlope 0): the
 *                      fraction of units whose output is 0 for every sample of the batch
 * The pass runs in inference mode through Sequential.probeLayers, so it changes no weight, no
 * BatchNormalization statistic, no optimizer slot and draws no random number: training with and
 * without this callback gives bit-identical weights.
 */
import { Callback, Logs } from './callback';
import type { Tensor } from '../tensor';
import type { Layer } from '../layers/layer';
import type { LayerProbe } from '../models/sequential';
import type { TensorLike } from '../models/data';
import { StateError, ValueError, describe } from '../errors';

/** Statistics of one layer computed by {@link GradientStats} on a probe batch. */
export interface LayerStats {
  /** Layer name. */
  layer: string;
  /** Layer class name, e.g. `'Dense'`. */
  className: string;
  /** L2 norm of the gradients of the layer's trainable weights; null when it has none. */
  gradNorm: number | null;
  /** sqrt(sum of squared outputs / batch size). */
  actNorm: number;
  /** Fraction of units that output 0 for every sample; null unless the output is ReLU-family. */
  deadFraction: number | null;
}

/** When the statistics passed to `onStats` were computed. */
export interface GradientStatsInfo {
  /** Epoch (0-based). */
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
  /** Samples in the batch the statistics were computed on. */
  samples: number;
}

/** Options of {@link GradientStats}. */
export interface GradientStatsArgs {
  /** 'epoch' (default): on the last batch of each epoch; a number N: on the first batch, then every N batches (each epoch's logs carry the latest values). */
  every?: 'epoch' | number;
  /**
   * A fixed [x, y] sample to compute the statistics on (comparable from epoch to epoch). Default:
   * the batch just trained on.
   */
  sample?: [TensorLike, TensorLike];
  /** Receives the statistics each time they are computed. */
  onStats?: (stats: LayerStats[], info: GradientStatsInfo) => void;
  /** Also write grad_norm/…, act_norm/…, dead_relu/… into the logs (so History records them). Default true. */
  logs?: boolean;
}

/** What the callback needs of the model: Sequential provides it. */
interface ProbeableModel {
  probeLayers<T>(x: TensorLike, y: TensorLike, visit: (probes: LayerProbe[]) => T): T;
  readonly currentBatch: [Tensor, Tensor] | null;
}

/**
 * Diagnoses vanishing and exploding gradients: every epoch (or every N batches) one extra pass in
 * inference mode over a batch reports, per layer, the gradient norm (`grad_norm/<layer>`), the
 * activation norm (`act_norm/<layer>`) and, for ReLU-family outputs, the fraction of dead units
 * (`dead_relu/<layer>`). It changes no weight or state: training gives the same weights with or
 * without it. No Keras equivalent.
 */
export class GradientStats extends Callback {
  /** 'epoch' (default): on the last batch of each epoch; a number N: on the first batch, then every N batches. */
  readonly every: 'epoch' | number;
  /** The statistics last computed (empty before the first). */
  latest: LayerStats[] = [];
  private readonly sample: [TensorLike, TensorLike] | null;
  private readonly onStats: ((stats: LayerStats[], info: GradientStatsInfo) => void) | null;
  private readonly toLogs: boolean;
  private epoch = 0;
  private seen = 0;

  constructor(args: GradientStatsArgs = {}) {
    super();
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`GradientStats: expected an options object, received ${describe(args)}`);
    }
    const every = args.every ?? 'epoch';
    if (every !== 'epoch' && !(typeof every === 'number' && Number.isInteger(every) && every >= 1)) {
      throw new ValueError(`GradientStats: every must be 'epoch' or a positive integer, received ${describe(every)}`);
    }
    if (args.sample !== undefined && !(Array.isArray(args.sample) && args.sample.length === 2)) {
      throw new ValueError(`GradientStats: sample must be [x, y], received ${describe(args.sample)}`);
    }
    if (args.onStats !== undefined && typeof args.onStats !== 'function') {
      throw new ValueError(`GradientStats: onStats must be a function, received ${describe(args.onStats)}`);
    }
    if (args.logs !== undefined && typeof args.logs !== 'boolean') {
      throw new ValueError(`GradientStats: logs must be a boolean, received ${describe(args.logs)}`);
    }
    this.every = every;
    this.sample = args.sample ?? null;
    this.onStats = args.onStats ?? null;
    this.toLogs = args.logs ?? true;
  }

  override onTrainBegin(): void {
    this.seen = 0;
  }

  override onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  override onBatchEnd(batch: number, logs: Logs): void {
    this.seen++;
    // Every N batches starts at the first, so that every epoch's logs carry values (History and
    // plotHistory need one per epoch for each key).
    const due =
      this.every === 'epoch' ? this.params !== null && batch === this.params.steps - 1 : (this.seen - 1) % this.every === 0;
    // A non-finite loss means the step was rejected: nothing meaningful to measure.
    if (!due || (logs.loss !== undefined && !Number.isFinite(logs.loss))) {
      this.writeLogs(logs);
      return;
    }
    const model = this.model as unknown as Partial<ProbeableModel> | null;
    if (!model || typeof model.probeLayers !== 'function') {
      throw new StateError('GradientStats: the model does not support probeLayers (use it with a Sequential model in fit)');
    }
    const data = this.sample ?? model.currentBatch;
    if (!data) return;
    const stats = model.probeLayers(data[0], data[1], (probes) => probes.map(layerStats));
    this.latest = stats;
    this.writeLogs(logs);
    this.onStats?.(stats, { epoch: this.epoch, batch, samples: samplesOf(data[0]) });
  }

  /** The latest statistics into this batch's logs (each batch's logs are a new object). */
  private writeLogs(logs: Logs): void {
    if (!this.toLogs || !this.latest) return;
    for (const s of this.latest) {
      if (s.gradNorm !== null) logs[`grad_norm/${s.layer}`] = s.gradNorm;
      logs[`act_norm/${s.layer}`] = s.actNorm;
      if (s.deadFraction !== null) logs[`dead_relu/${s.layer}`] = s.deadFraction;
    }
  }
}

function samplesOf(x: TensorLike): number {
  if (Array.isArray(x) || x instanceof Float32Array) return x.length;
  return x.shape[0] ?? 0;
}

function layerStats(p: LayerProbe): LayerStats {
  let g2 = 0;
  for (const { grad } of p.weightGrads) g2 += sumSquares(grad);
  const out = p.output;
  const n = out.rank > 0 ? out.shape[0]! : 1;
  return {
    layer: p.layer.name,
    className: p.layer.className,
    gradNorm: p.weightGrads.length > 0 ? Math.sqrt(g2) : null,
    actNorm: n > 0 ? Math.sqrt(sumSquares(out.data) / n) : 0,
    deadFraction: isReluFamily(p.layer) ? deadFraction(out.data, n) : null,
  };
}

function sumSquares(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return s;
}

/** Units (positions of one sample's output) that are exactly 0 for every sample, as a fraction. */
function deadFraction(out: Float32Array, n: number): number {
  if (n === 0) return 0;
  const per = out.length / n;
  let dead = 0;
  for (let u = 0; u < per; u++) {
    let i = 0;
    while (i < n && out[i * per + u] === 0) i++;
    if (i === n) dead++;
  }
  return per === 0 ? 0 : dead / per;
}

function isReluFamily(layer: Layer): boolean {
  const config = layer.getConfig();
  if (layer.className === 'ReLU') return config.negative_slope === 0;
  return config.activation === 'relu' || config.activation === 'relu6';
}
