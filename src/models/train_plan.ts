/**
 * A training step in one native call, for the Sequential models most training scripts build: a
 * stack of Flatten, Dense and BatchNormalization layers ending in a softmax (or linear, with
 * `fromLogits`) Dense layer, trained on a categorical cross-entropy. The per-op path (autograd)
 * spends tens of µs per step in JS between kernels, and ~12 µs per layer on a deep stack; the plan
 * runs the same kernels, in the same order, on the same values (native/train_plan.cc), so a model
 * trains to the same weights either way, bit for bit (test/39 checks this against the autograd
 * path) — except after a trainable BatchNormalization layer with nothing trainable below it,
 * whose gradients come from one GEMM fewer and match up to float rounding (train_plan.h).
 *
 * Anything else (Dropout, regularizers, other losses, custom layers, rank > 2 after Flatten) keeps
 * the autograd path. `DEEPNODE_TRAIN_PLAN=0` in the environment, or `setTrainPlanEnabled(false)`,
 * forces that path everywhere.
 */
import { Tensor } from '../tensor';
import { Layer, SymbolicShape, Variable } from '../layers/layer';
import { Dense } from '../layers/dense';
import { Flatten } from '../layers/flatten';
import { BatchNormalization } from '../layers/normalization';
import { Loss, SparseCategoricalCrossentropy, CategoricalCrossentropy } from '../losses';
import { ActId, native } from '../backend/native';
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

const enum LossKind {
  Sparse = 0,
  Categorical = 1,
}

type Spec = Record<string, unknown>;

/** Exactly this class, not a subclass that may override `call`. */
function isExactly<T>(layer: Layer, cls: abstract new (...args: never[]) => T): boolean {
  return Object.getPrototypeOf(layer) === cls.prototype;
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
    private readonly softmaxPred: boolean,
    readonly classes: number,
    /** Features per sample the first layer takes. */
    readonly inWidth: number,
  ) {}

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
      : null;
    if (kind === null) return null;
    const fromLogits = (loss as SparseCategoricalCrossentropy | CategoricalCrossentropy).fromLogits;

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
    let shape = inputShape;
    let anyTrainable = false;
    let softmaxPred = false;
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
      if (isExactly(layer, Dense)) {
        const d = layer as Dense;
        if (d.kernelRegularizer || d.biasRegularizer || d.activityRegularizer || !d.kernel) return null;
        const act = d.activation;
        let id: ActId;
        if (last) {
          // The logits: softmax folded into the loss (fromLogits false) or raw (fromLogits true).
          if (act.fn) return null;
          if (act.id === null && act.name === 'softmax' && !fromLogits) softmaxPred = true;
          else if (act.id !== ActId.Linear || !fromLogits) return null;
          id = ActId.Linear;
        } else {
          // Exactly the activations the Dense op runs in its own pass (softmax and sigmoid are ops of their own).
          if (act.fn || act.id === null || act.id === ActId.Sigmoid) return null;
          id = act.id;
        }
        const kernel = d.kernel, bias = d.bias;
        const trainKernel = kernel.requiresGrad, trainBias = bias !== null && bias.requiresGrad;
        const fuseKernel = trainKernel && fusable.has(kernel), fuseBias = trainBias && fusable.has(bias!);
        // Gradients are written whenever the step is not fused (e.g. SGD with momentum), so every
        // trainable weight needs its gradient buffer.
        const [k, kg] = watch(kernel, trainKernel);
        const [b, bg] = watch(bias, trainBias);
        if ((trainKernel && kg === null) || (trainBias && bg === null)) return null;
        anyTrainable ||= trainKernel || trainBias;
        specs.push({
          kind: 'dense', in: kernel.shape[0], out: kernel.shape[1], kernel: k, bias: b, act: id, alpha: act.alpha,
          trainKernel, trainBias, fuseKernel, fuseBias, kernelGrad: kg, biasGrad: bg,
        });
        shape = [null, kernel.shape[1]!];
      } else if (isExactly(layer, BatchNormalization)) {
        const bn = layer as BatchNormalization;
        const axis = Array.isArray(bn.axis) ? (bn.axis.length === 1 ? bn.axis[0] : null) : bn.axis;
        if ((axis !== -1 && axis !== 1) || bn.gammaRegularizer || bn.betaRegularizer || !bn.movingMean || !bn.movingVariance) return null;
        const gamma = bn.gamma, beta = bn.beta;
        const trainGamma = gamma !== null && gamma.requiresGrad, trainBeta = beta !== null && beta.requiresGrad;
        const [g, gg] = watch(gamma, trainGamma);
        const [b, bg] = watch(beta, trainBeta);
        if ((trainGamma && gg === null) || (trainBeta && bg === null)) return null;
        const [mm] = watch(bn.movingMean, false);
        const [mv] = watch(bn.movingVariance, false);
        anyTrainable ||= trainGamma || trainBeta;
        specs.push({
          kind: 'batchnorm', C: bn.movingMean.size, gamma: g, beta: b, movingMean: mm, movingVariance: mv,
          momentum: bn.momentum, epsilon: bn.epsilon,
          // Keras 3: a frozen BatchNormalization layer runs in inference mode.
          batchStats: bn.trainable, gammaGrad: gg, betaGrad: bg,
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
    return new TrainPlan(handle, data, grads, trainable, maxRows, kind === LossKind.Sparse ? 1 : classes, softmaxPred, classes, inWidth);
  }

  /** False once a weight was re-packed, frozen or unfrozen since the plan was made. */
  current(): boolean {
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
    return native.trainPlanStep(this.handle, x.data, y.data, rows, lr !== null, lr ?? 0, pred, this.softmaxPred);
  }

  /**
   * Up to `count` plain-SGD steps over consecutive batches of (x, y) taken in `index` order from
   * row `start` (native/train_plan.h TrainPlan::run). Returns the number of steps done: fewer
   * when a loss was not finite (that batch changed nothing).
   */
  run(
    x: Tensor, y: Tensor, index: Int32Array | null, start: number, batch: number, count: number,
    lrs: Float32Array, losses: Float64Array, preds: Float32Array | null, targets: Float32Array | null,
  ): number {
    return native.trainPlanRun(this.handle, x.data, y.data, index, x.shape[0]!, start, batch, count, lrs, losses, preds, targets, this.softmaxPred);
  }

  /** Whether x and y hold whole samples of the widths this plan was made for. */
  fits(x: Tensor, y: Tensor): boolean {
    const n = x.shape[0] ?? 0;
    return x.size === n * this.inWidth && y.size === n * this.targetWidth;
  }
}
