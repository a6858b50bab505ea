/**
 * A training step in one native call, for the Sequential models most training scripts build: a
 * stack of Flatten, Dense, BatchNormalization, dropout-family (Dropout, AlphaDropout,
 * GaussianDropout, GaussianNoise) and activation layers (Activation, LeakyReLU, ELU, ReLU in its
 * plain, leaky and ReLU6 forms, PReLU with a slope per unit) ending in a Dense layer, trained on a
 * categorical cross-entropy (softmax output, or linear with `fromLogits`), a binary cross-entropy
 * (sigmoid output, or linear with `fromLogits`) or a mean squared error (linear output), with or
 * without Keras's L1 / L2 / L1L2 weight penalties. A dropout-family layer draws its key from its
 * generator per step, as its own call would, so it draws the same noise. The per-op path
 * (autograd) spends tens of µs per step in JS between kernels, and ~12 µs per layer on a deep
 * stack; the plan runs the same kernels, in the same order, on the same values
 * (native/train_plan.cc), so a model trains to the same weights and logs the same loss either way,
 * bit for bit (test/39 checks this against the autograd path) — except after a trainable
 * BatchNormalization layer with nothing trainable below it, whose gradients come from one GEMM
 * fewer and match up to float rounding (train_plan.h).
 *
 * Anything else (a dropout noise shape, activity or custom regularizers, other losses, custom
 * layers, rank > 2 after Flatten) keeps the autograd path. `DEEPNODE_TRAIN_PLAN=0` in the environment, or
 * `setTrainPlanEnabled(false)`, forces that path everywhere.
 */
import { Tensor } from '../tensor';
import { Layer, SymbolicShape, Variable } from '../layers/layer';
import { Dense } from '../layers/dense';
import { Flatten } from '../layers/flatten';
import { BatchNormalization } from '../layers/normalization';
import { AlphaDropout, Dropout, GaussianDropout, GaussianNoise, NoiseLayer } from '../layers/dropout';
import { Activation } from '../layers/activation';
import { ELU, LeakyReLU, PReLU, ReLU } from '../layers/activations';
import type { Random, RandomState } from '../random';
import { BinaryCrossentropy, CategoricalCrossentropy, Loss, MeanSquaredError, SparseCategoricalCrossentropy } from '../losses';
import { L1, L1L2, L2, Regularizer } from '../regularizers';
import { ActId, native, NativeConstraints, NativeUpdate } from '../backend/native';
import { ValueError, describe } from '../errors';

let enabled = process.env.DEEPNODE_TRAIN_PLAN !== '0';

/** Turn the one-call training step on or off for every model; returns the previous setting. */
export function setTrainPlanEnabled(on: boolean): boolean {
  if (typeof on !== 'boolean') throw new ValueError(`setTrainPlanEnabled: on must be a boolean, received ${describe(on)}`);
  const prev = enabled;
  enabled = on;
  return prev;
}

/** Whether fit may use the one-call training step (see the file comment). */
export function trainPlanEnabled(): boolean {
  return enabled;
}

// native/train_plan.h PlanLoss.
const enum LossKind {
  Sparse = 0,
  Categorical = 1,
  Binary = 2,
  MeanSquared = 3,
}

type Spec = Record<string, unknown>;

/** Exactly this class, not a subclass that may override `call`. */
function isExactly<T>(layer: Layer, cls: abstract new (...args: never[]) => T): boolean {
  return Object.getPrototypeOf(layer) === cls.prototype;
}

/**
 * A weight penalty as spec fields `<prefix>L1` / `<prefix>L2` (the factor, or null for no such
 * term), {} for none, or null when the regularizer is not one of Keras's three (a custom one keeps
 * the autograd path). The terms are those the regularizer's `call` builds: L1L2 skips a zero
 * factor, and with both zero is a zero L2 term.
 */
function penaltySpec(r: Regularizer | null, trained: boolean, prefix: string): Spec | null {
  if (r === null || !trained) return {};
  const spec = (l1: number | null, l2: number | null): Spec => ({ [`${prefix}L1`]: l1, [`${prefix}L2`]: l2 });
  const proto = Object.getPrototypeOf(r);
  if (proto === L1.prototype) return spec((r as L1).l1, null);
  if (proto === L2.prototype) return spec(null, (r as L2).l2);
  if (proto === L1L2.prototype) {
    const { l1, l2 } = r as L1L2;
    return l1 === 0 && l2 === 0 ? spec(null, 0) : spec(l1 !== 0 ? l1 : null, l2 !== 0 ? l2 : null);
  }
  return null;
}

/**
 * The element-wise activation an activation layer's call runs (the kernel and its parameter),
 * 'identity' for one that returns its input, or null for a layer the plan does not run this way
 * (softmax, a custom function, ReLU with a threshold or another cap, any other layer).
 */
function activationLayer(layer: Layer): { id: ActId; alpha: number } | 'identity' | null {
  if (isExactly(layer, Activation)) {
    const a = (layer as Activation).activation;
    if (a.fn || a.id === null) return null;
    return a.id === ActId.Linear ? 'identity' : { id: a.id, alpha: a.alpha ?? 0 };
  }
  if (isExactly(layer, LeakyReLU)) return { id: ActId.LeakyRelu, alpha: (layer as LeakyReLU).negativeSlope };
  if (isExactly(layer, ELU)) return { id: ActId.Elu, alpha: (layer as ELU).alpha };
  if (isExactly(layer, ReLU)) {
    // The cases ReLU.call runs through the element-wise kernels.
    const { maxValue, negativeSlope, threshold } = layer as ReLU;
    if (threshold === 0 && maxValue === null) return negativeSlope === 0 ? { id: ActId.Relu, alpha: 0 } : { id: ActId.LeakyRelu, alpha: negativeSlope };
    if (threshold === 0 && negativeSlope === 0 && maxValue === 6) return { id: ActId.Relu6, alpha: 0 };
  }
  return null;
}

/**
 * The noise a dropout-family layer's training call draws, as spec fields; 'identity' for one that
 * returns its input (rate or stddev 0); 'unsupported' for a noise shape; null for other layers.
 */
function noiseLayerSpec(layer: Layer): Spec | 'identity' | 'unsupported' | null {
  if (isExactly(layer, Dropout) || isExactly(layer, AlphaDropout)) {
    const z = layer as Dropout;
    if (z.noiseShape !== null) return 'unsupported';
    if (z.rate === 0) return 'identity';
    const v = z.noiseValues();
    return {
      dist: 'bernoulli', rate: z.rate, mulKeep: v.mulKeep, mulDrop: v.mulDrop,
      hasAdd: v.add !== null, addKeep: v.add?.keep ?? 0, addDrop: v.add?.drop ?? 0,
    };
  }
  if (isExactly(layer, GaussianDropout)) {
    const z = layer as GaussianDropout;
    return z.rate === 0 ? 'identity' : { dist: 'normalMul', stddev: z.noiseStddev };
  }
  if (isExactly(layer, GaussianNoise)) {
    const z = layer as GaussianNoise;
    return z.stddev === 0 ? 'identity' : { dist: 'normalAdd', stddev: z.stddev };
  }
  return null;
}

export class TrainPlan {
  private constructor(
    private readonly handle: object,
    /** Every array the native plan points into, with the tensor it came from: a change means rebuild. */
    private readonly data: [Tensor, Float32Array][],
    private readonly grads: [Tensor, Float32Array | null][],
    private readonly trainable: [Variable, boolean][],
    readonly maxRows: number,
    /** Floats of target per sample: 1 (a class id) for a sparse loss, else the class count. */
    readonly targetWidth: number,
    /** The output the metrics see is the loss's output activation of the logits (softmax, sigmoid), not the logits. */
    private readonly activatePred: boolean,
    readonly classes: number,
    /** Features per sample the first layer takes. */
    readonly inWidth: number,
    /** The dropout-family layers, in order: each takes a key per step. */
    private readonly noise: readonly NoiseLayer[],
    /** Each BatchNormalization layer with its `trainable` when the plan was made (batch statistics or moving ones). */
    private readonly bnModes: readonly [{ readonly trainable: boolean }, boolean][],
  ) {
    this.generators = [...new Set(noise.map((l) => l.generator))];
  }

  /** The noise layers' generators, each once (several may share the global one). */
  private readonly generators: readonly Random[];

  private keys = new Uint32Array(0);

  /** Keys for `steps` steps, drawn as the layers' own calls would (step by step, layer by layer); null without noise layers. */
  private drawKeys(steps: number): Uint32Array | null {
    const per = this.noise.length;
    if (per === 0) return null;
    if (this.keys.length < 2 * per * steps) this.keys = new Uint32Array(2 * per * steps);
    for (let j = 0, o = 0; j < steps; j++) {
      for (const layer of this.noise) {
        const [hi, lo] = layer.nextKey();
        this.keys[o++] = hi;
        this.keys[o++] = lo;
      }
    }
    return this.keys;
  }

  /** The generators' states, to give back the keys of steps that did not run. */
  private snapshot(): [Random, RandomState][] {
    return this.generators.map((g) => [g, g.snapshot()]);
  }

  /**
   * The plan for these layers, or null when one of them (or the loss) is outside what the plan
   * runs. `fusable`: the weights a plain SGD step may update during the backward pass.
   */
  static build(
    layers: readonly Layer[], inputShape: SymbolicShape, loss: Loss, fusable: ReadonlySet<Variable>, maxRows: number,
  ): TrainPlan | null {
    if (!enabled || layers.length === 0) return null;
    const proto = Object.getPrototypeOf(loss);
    const kind =
      proto === SparseCategoricalCrossentropy.prototype ? LossKind.Sparse
      : proto === CategoricalCrossentropy.prototype ? LossKind.Categorical
      : proto === BinaryCrossentropy.prototype ? LossKind.Binary
      : proto === MeanSquaredError.prototype ? LossKind.MeanSquared
      : null;
    if (kind === null) return null;
    const fromLogits = kind !== LossKind.MeanSquared && (loss as SparseCategoricalCrossentropy | CategoricalCrossentropy | BinaryCrossentropy).fromLogits;

    const specs: Spec[] = [];
    const data: [Tensor, Float32Array][] = [];
    const grads: [Tensor, Float32Array | null][] = [];
    const trainable: [Variable, boolean][] = [];
    const watch = (v: Variable | null, wantGrad: boolean): [Float32Array | null, Float32Array | null] => {
      if (v === null) return [null, null];
      data.push([v, v.data]);
      trainable.push([v, v.requiresGrad]);
      const g = wantGrad ? v.grad : null;
      grads.push([v, g]);
      return [v.data, g];
    };
    const noise: NoiseLayer[] = [];
    const bnModes: [{ readonly trainable: boolean }, boolean][] = [];
    let shape = inputShape;
    let anyTrainable = false;
    let activatePred = false;
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i]!;
      const last = i === layers.length - 1;
      if (isExactly(layer, Flatten)) {
        if (last) return null;
        const per = shape.slice(1);
        if (per.some((d) => d === null)) return null;
        shape = [null, (per as number[]).reduce((a, b) => a * b, 1)];
        continue;
      }
      if (shape.length !== 2) return null;
      const actLayer = activationLayer(layer);
      if (actLayer !== null) {
        if (last || shape[1] === null) return null;
        if (actLayer !== 'identity') specs.push({ kind: 'act', C: shape[1], act: actLayer.id, alpha: actLayer.alpha });
        continue;
      }
      if (isExactly(layer, PReLU)) {
        const pr = layer as PReLU;
        const alpha = pr.alpha;
        if (last || alpha === null || (pr.sharedAxes?.length ?? 0) > 0 || alpha.size !== shape[1]) return null;
        const trainAlpha = alpha.requiresGrad;
        const penalty = penaltySpec(pr.alphaRegularizer, trainAlpha, 'alpha');
        if (penalty === null) return null;
        const [a, ag] = watch(alpha, trainAlpha);
        if (trainAlpha && ag === null) return null;
        anyTrainable ||= trainAlpha;
        specs.push({ kind: 'prelu', C: alpha.size, alpha: a, alphaGrad: ag, ...penalty });
        continue;
      }
      const noiseSpec = noiseLayerSpec(layer);
      if (noiseSpec !== null) {
        if (last || shape[1] === null) return null;
        if (noiseSpec === 'identity') continue;  // rate or stddev 0: its call draws no key
        if (noiseSpec === 'unsupported') return null;
        specs.push({ kind: 'noise', C: shape[1], ...noiseSpec });
        noise.push(layer as NoiseLayer);
        continue;
      }
      if (isExactly(layer, Dense)) {
        const d = layer as Dense;
        if (d.activityRegularizer || !d.kernel) return null;
        const act = d.activation;
        let id: ActId;
        if (last) {
          // The logits, which the loss takes as the JS loss does: a softmax (sigmoid) output is
          // folded into the (binary) cross-entropy, fromLogits takes a linear output as they are,
          // and the mean squared error compares a linear output itself.
          if (act.fn) return null;
          if (kind === LossKind.MeanSquared) {
            if (act.id !== ActId.Linear) return null;
          } else if (kind === LossKind.Binary) {
            if (act.id === ActId.Sigmoid && !fromLogits) activatePred = true;
            else if (act.id !== ActId.Linear || !fromLogits) return null;
          } else if (act.id === null && act.name === 'softmax' && !fromLogits) {
            activatePred = true;
          } else if (act.id !== ActId.Linear || !fromLogits) {
            return null;
          }
          id = ActId.Linear;
        } else {
          // The activations the Dense op runs in its own pass, and sigmoid, which the layer runs as
          // an op of its own after a linear Dense op (an 'act' step after this one; softmax and
          // custom functions keep the autograd path).
          if (act.fn || act.id === null) return null;
          id = act.id === ActId.Sigmoid ? ActId.Linear : act.id;
        }
        const kernel = d.kernel, bias = d.bias;
        const trainKernel = kernel.requiresGrad, trainBias = bias !== null && bias.requiresGrad;
        const kernelPenalty = penaltySpec(d.kernelRegularizer, trainKernel, 'kernel');
        const biasPenalty = penaltySpec(d.biasRegularizer, trainBias, 'bias');
        if (kernelPenalty === null || biasPenalty === null) return null;
        const fuseKernel = trainKernel && fusable.has(kernel), fuseBias = trainBias && fusable.has(bias!);
        // Gradients are written whenever the step is not fused (e.g. SGD with momentum), so every
        // trainable weight needs its gradient buffer.
        const [k, kg] = watch(kernel, trainKernel);
        const [b, bg] = watch(bias, trainBias);
        if ((trainKernel && kg === null) || (trainBias && bg === null)) return null;
        anyTrainable ||= trainKernel || trainBias;
        specs.push({
          kind: 'dense', in: kernel.shape[0], out: kernel.shape[1], kernel: k, bias: b, act: id, alpha: act.alpha,
          trainKernel, trainBias, fuseKernel, fuseBias, kernelGrad: kg, biasGrad: bg, ...kernelPenalty, ...biasPenalty,
        });
        shape = [null, kernel.shape[1]!];
        if (!last && act.id === ActId.Sigmoid) specs.push({ kind: 'act', C: shape[1], act: ActId.Sigmoid, alpha: 0 });
      } else if (isExactly(layer, BatchNormalization)) {
        const bn = layer as BatchNormalization;
        const axis = Array.isArray(bn.axis) ? (bn.axis.length === 1 ? bn.axis[0] : null) : bn.axis;
        if ((axis !== -1 && axis !== 1) || !bn.movingMean || !bn.movingVariance) return null;
        const gamma = bn.gamma, beta = bn.beta;
        const trainGamma = gamma !== null && gamma.requiresGrad, trainBeta = beta !== null && beta.requiresGrad;
        const gammaPenalty = penaltySpec(bn.gammaRegularizer, trainGamma, 'gamma');
        const betaPenalty = penaltySpec(bn.betaRegularizer, trainBeta, 'beta');
        if (gammaPenalty === null || betaPenalty === null) return null;
        const [g, gg] = watch(gamma, trainGamma);
        const [b, bg] = watch(beta, trainBeta);
        if ((trainGamma && gg === null) || (trainBeta && bg === null)) return null;
        const [mm] = watch(bn.movingMean, false);
        const [mv] = watch(bn.movingVariance, false);
        anyTrainable ||= trainGamma || trainBeta;
        bnModes.push([bn, bn.trainable]);
        specs.push({
          kind: 'batchnorm', C: bn.movingMean.size, gamma: g, beta: b, movingMean: mm, movingVariance: mv,
          momentum: bn.momentum, epsilon: bn.epsilon,
          // Keras 3: a frozen BatchNormalization layer runs in inference mode.
          batchStats: bn.trainable, gammaGrad: gg, betaGrad: bg, ...gammaPenalty, ...betaPenalty,
        });
        shape = [null, bn.movingMean.size];
      } else {
        return null;
      }
    }
    const lastSpec = specs[specs.length - 1];
    if (!anyTrainable || lastSpec === undefined || lastSpec.kind !== 'dense') return null;
    const handle = native.trainPlanCreate(specs, maxRows, kind);
    const inWidth = specs[0]!.kind === 'dense' ? (specs[0]!.in as number) : (specs[0]!.C as number);
    const classes = lastSpec.out as number;
    return new TrainPlan(handle, data, grads, trainable, maxRows, kind === LossKind.Sparse ? 1 : classes, activatePred, classes, inWidth, noise, bnModes);
  }

  /**
   * False once a weight was re-packed, frozen or unfrozen, or a BatchNormalization layer frozen or
   * unfrozen (one without gamma and beta has no weight that would show it), since the plan was made.
   */
  current(): boolean {
    for (const [bn, on] of this.bnModes) if (bn.trainable !== on) return false;
    for (const [t, a] of this.data) if (t.data !== a) return false;
    for (const [t, g] of this.grads) if (g !== null && t.grad !== g) return false;
    for (const [v, on] of this.trainable) if (v.requiresGrad !== on) return false;
    return true;
  }

  /**
   * One step on a batch: `lr` non-null fuses plain SGD into the backward pass for the fusable
   * weights (the other gradients are written for the optimizer). `pred` receives the model's
   * output (softmax probabilities, or the logits) when given. Returns the mean loss; when it is
   * not finite nothing was changed.
   */
  step(x: Tensor, y: Tensor, lr: number | null, pred: Float32Array | null): number {
    const rows = x.shape[0]!;
    // A step that changes nothing (a non-finite loss, which the autograd step then diagnoses, or
    // a bad label) gives its noise keys back, so the next draws are those of a run without the plan.
    const saved = this.noise.length > 0 ? this.snapshot() : null;
    let loss = NaN;
    try {
      loss = native.trainPlanStep(this.handle, x.data, y.data, rows, lr !== null, lr ?? 0, pred, this.activatePred, this.drawKeys(1));
    } finally {
      if (saved && !Number.isFinite(loss)) for (const [g, s] of saved) g.restore(s);
    }
    return loss;
  }

  /**
   * Up to `count` steps over consecutive batches of (x, y) taken in `index` order from row `start`
   * (native/train_plan.h TrainPlan::run): plain SGD at `lrs` when `update` is null, else each
   * batch's gradients and then the optimizer's update (Optimizer.planUpdate); then `constraints`.
   * Returns the number of steps done: fewer when a loss was not finite (that batch changed nothing).
   */
  run(
    x: Tensor, y: Tensor, index: Int32Array | null, start: number, batch: number, count: number,
    lrs: Float32Array, losses: Float64Array, preds: Float32Array | null, targets: Float32Array | null,
    update: NativeUpdate | null = null, constraints: NativeConstraints | null = null,
  ): number {
    const saved = this.noise.length > 0 ? this.snapshot() : null;
    let done = 0;
    try {
      done = native.trainPlanRun(this.handle, x.data, y.data, index, x.shape[0]!, start, batch, count, lrs, losses, preds, targets, this.activatePred, this.drawKeys(count), update, constraints);
    } finally {
      // Keys drawn for steps that did not run go back (as in step).
      if (saved && done < count) {
        for (const [g, s] of saved) g.restore(s);
        this.drawKeys(done);
      }
    }
    return done;
  }

  /** Whether x and y hold whole samples of the widths this plan was made for. */
  fits(x: Tensor, y: Tensor): boolean {
    const n = x.shape[0] ?? 0;
    return x.size === n * this.inWidth && y.size === n * this.targetWidth;
  }
}
