/**
 * Keras's Sequential model: a stack of layers with compile / fit / evaluate / predict / summary.
 *
 * Training keeps every trainable weight in one contiguous Float32Array (and every gradient in
 * another), so an optimizer step is one native call over the whole model, and each batch runs in
 * an autograd scope whose buffers are reused by the next batch: memory stays flat over an epoch.
 */
import { Tensor, sizeOf } from '../tensor';
import { Layer, SymbolicShape, Variable, formatShape, uniqueName } from '../layers/layer';
import { Loss, LossFn, LossId, getLoss } from '../losses';
import { FunctionMetric, Metric, MetricFn, MetricId, Mean, getMetric } from '../metrics';
import { Optimizer, OptimizerId, getOptimizer } from '../optimizers';
import type { Segment } from '../optimizers/optimizer';
import { Callback, CallbackList, Logs } from '../callbacks/callback';
import { History } from '../callbacks/history';
import { ProgbarLogger, Writable } from '../callbacks/progbar';
import { scope, backward, noGrad, withFusedSgd } from '../autograd/engine';
import { globalRandom } from '../random';
import { DeepnodeError, ShapeError, StateError, ValueError, checkOptions, describe } from '../errors';
import { native, NativeConstraints, NativeUpdate, UPDATE_SCALARS } from '../backend/native';
import { add } from '../ops/arithmetic';
import { reshape } from '../ops/shape';
import { Batcher, TensorLike, assertFinite, sliceRows, toTensor } from './data';
import { TrainPlan, trainPlanEnabled } from './train_plan';
import { saveModel, saveWeights, loadWeights } from '../saving/model_io';
import type { SaveOptions, SaveResult } from '../saving/model_io';

/** Arguments of {@link Sequential.compile}. Keras: `model.compile(optimizer, loss, metrics)`. */
export interface CompileArgs {
  /** An optimizer instance or its string id (e.g. `'sgd'`, `'adam'`), built with its defaults. Keras: `optimizer`. */
  optimizer: Optimizer | OptimizerId;
  /**
   * A loss instance, its string id (e.g. `'sparse_categorical_crossentropy'`) or a function
   * `(yTrue, yPred) => tensor` of per-sample losses (their mean is minimised). Keras: `loss`.
   */
  loss: Loss | LossId | LossFn;
  /**
   * Metrics reported in the logs, e.g. `['accuracy']` (resolved to the accuracy matching the loss),
   * metric objects, or functions `(yTrue, yPred) => tensor` of per-sample values (logged as their
   * running mean under the function's name). Default none. Keras: `metrics`.
   */
  metrics?: (Metric | MetricId | MetricFn)[];
  /**
   * Metrics that count each sample with its weight (`sampleWeight` or `classWeight` of fit,
   * `sampleWeight` of evaluate; unweighted without them). One whose name an earlier metric has is
   * logged as `weighted_<name>` (e.g. `weighted_accuracy`), as Keras 3 does. Default none. Keras:
   * `weighted_metrics`.
   */
  weightedMetrics?: (Metric | MetricId | MetricFn)[];
}

/** Options of {@link Sequential.fit}; names mirror Keras `model.fit` in camelCase. */
export interface FitArgs {
  /** Number of epochs to train (the index of the last epoch + 1 when `initialEpoch` is set, as Keras). Default 1. Keras: `epochs`. */
  epochs?: number;
  /** Samples per gradient update. Default 32. Keras: `batch_size`. */
  batchSize?: number;
  /** Shuffle the training samples before each epoch (default true). Keras: `shuffle`. */
  shuffle?: boolean;
  /** Data to evaluate on at the end of each epoch, `[x, y]` or `[x, y, sampleWeight]`. Default none. Keras: `validation_data`. */
  validationData?: [TensorLike, TensorLike] | [TensorLike, TensorLike, TensorLike];
  /** Fraction of the training data (taken from the end, before shuffling) to validate on. Default 0. Keras: `validation_split`. */
  validationSplit?: number;
  /** Callbacks run at the train/epoch/batch hooks, one or a list (a History is always added and returned). Default none. Keras: `callbacks`. */
  callbacks?: Callback | Callback[];
  /** 0 silent, 1 progress bar, 2 one line per epoch (default 1). Keras: `verbose`. */
  verbose?: 0 | 1 | 2;
  /** Epoch at which to start (for resuming), default 0. Keras: `initial_epoch`. */
  initialEpoch?: number;
  /** Where progress goes (default process.stdout). No Keras equivalent. */
  stream?: Writable;
  /**
   * One non-negative weight per training sample: each sample's loss is scaled by it (the loss is
   * sum(w_i * loss_i) / batch size). `validationSplit` splits it with the data. Compile's
   * `metrics` stay unweighted, its `weightedMetrics` use it (Keras). Default none. Keras: `sample_weight`.
   */
  sampleWeight?: TensorLike;
  /**
   * A weight per class index, e.g. `{ 0: 1, 1: 5 }` (a plain object, a Map or an array): each
   * training sample's loss is scaled by the weight of its class (the label, or the argmax of a
   * one-hot label), 1 for a class not listed. Not applied to validation data. Not with
   * `sampleWeight`. Default none. Keras: `class_weight`.
   */
  classWeight?: ClassWeight;
  /**
   * Cancels training between two batches: fit then rejects with an error named 'AbortError'
   * (code 'ABORT_ERR'), and the model keeps the weights of the last completed batch. No Keras equivalent.
   */
  signal?: AbortSignal;
}

/** Weights per class index for `fit` and `trainOnBatch`: `{ 0: 1, 1: 5 }`, a Map, or an array indexed by class. Keras: `class_weight`. */
export type ClassWeight = Record<number, number> | ReadonlyMap<number, number> | readonly number[];

/** Options of {@link Sequential.trainOnBatch}. */
export interface TrainOnBatchArgs {
  /** Return `{ loss, ...metrics }` instead of the loss or `[loss, ...metrics]` (default false). Keras: `return_dict`. */
  returnDict?: boolean;
  /** One weight per sample of the batch, as fit's. Keras: `sample_weight`. */
  sampleWeight?: TensorLike;
  /** Weights per class, as fit's. Keras: `class_weight`. */
  classWeight?: ClassWeight;
}

/** Options of {@link Sequential.testOnBatch}. */
export interface TestOnBatchArgs {
  /** Return `{ loss, ...metrics }` instead of the loss or `[loss, ...metrics]` (default false). Keras: `return_dict`. */
  returnDict?: boolean;
  /** One weight per sample of the batch, as evaluate's. Keras: `sample_weight`. */
  sampleWeight?: TensorLike;
}

/** Options of {@link Sequential.evaluate}. */
export interface EvaluateArgs {
  /** Samples per batch, default 32. Keras: `batch_size`. */
  batchSize?: number;
  /** One weight per sample, scaling its loss as in fit (metrics unweighted). Default none. Keras: `sample_weight`. */
  sampleWeight?: TensorLike;
  /** Accepted (0, 1 or 2) so that Keras calls port unchanged; evaluate prints nothing. Keras: `verbose`. */
  verbose?: 0 | 1 | 2;
}

/**
 * One layer as seen by `Sequential.probeLayers`: its output on the probed batch, the gradient of the
 * loss with respect to that output, and the gradients of its trainable weights. The arrays are
 * pooled buffers, valid only inside the visit function.
 */
export interface LayerProbe {
  /** The probed layer. */
  layer: Layer;
  /** Its output on the probed batch (inference mode). */
  output: Tensor;
  /** dLoss/dOutput, or null when nothing trainable lies before or in this layer. */
  outputGrad: Float32Array | null;
  /** Gradient of the loss w.r.t. each trainable weight of the layer, by weight name. */
  weightGrads: {
    /** Weight name, e.g. `'dense/kernel'`. */
    name: string;
    /** dLoss/dWeight, same layout as the weight. */
    grad: Float32Array;
  }[];
}

/** Options of {@link Sequential.predict}. */
export interface PredictArgs {
  /** Samples per batch, default 32. Keras: `batch_size`. */
  batchSize?: number;
  /** Run layers in training mode (e.g. MC Dropout), default false. */
  training?: boolean;
  /** Accepted (0, 1 or 2) so that Keras calls port unchanged; predict prints nothing. Keras: `verbose`. */
  verbose?: 0 | 1 | 2;
}

interface Compiled {
  optimizer: Optimizer;
  loss: Loss;
  /** The compiled metrics, the weighted ones last. */
  metrics: Metric[];
  /** Those of `metrics` from `weightedMetrics`: updated with the sample weights. */
  weighted: ReadonlySet<Metric>;
}

/** A linear stack of layers with compile / fit / evaluate / predict / summary / save. Keras: `keras.Sequential`. */
export class Sequential {
  /** Model name (default a unique `sequential`, `sequential_1`, ...). Keras: `name`. */
  readonly name: string;
  /** Set by a callback to stop training after the current batch. */
  stopTraining = false;
  private readonly _layers: Layer[] = [];
  private _inputShape: SymbolicShape | null = null;
  private outputShapes: SymbolicShape[] = [];
  private compiled: Compiled | null = null;
  // Flat parameter and gradient buffers that the trainable weights are views into.
  private params = new Float32Array(0);
  private grads = new Float32Array(0);
  private segments: Segment[] = [];
  // The trainable weights in `params`, in order, as of the last packing.
  private packedVars: Variable[] = [];
  /** Weights a fused plain-SGD step updates inside the backward pass, and the segments it does not. */
  private fusable: ReadonlySet<Variable> = new Set();
  private unfusedSegments: Segment[] = [];
  // Weights that a training-mode forward pass updates (BatchNormalization's moving statistics: the
  // non-trainable weights of trainable layers), saved before each step so that a step whose loss
  // is not finite can put them back, and the buffer they are saved in.
  private stateVars: Variable[] = [];
  private stateSaved = new Float32Array(0);
  // Each layer's output in the current training step (valid inside the step's scope).
  private readonly stepOutputs: Tensor[] = [];
  // Why the last training step's loss was not finite (set only on that path).
  private nonFiniteCause = '';
  // The batch being trained on, for callbacks that inspect it (callbacks.gradientStats).
  private batchX: Tensor | null = null;
  private batchY: Tensor | null = null;
  /** The one-call training step (train_plan.ts): undefined until tried, null when the model does not qualify. */
  private plan: TrainPlan | null | undefined = undefined;
  /** Layers with a constraint to apply after each step. */
  private constrained: Layer[] = [];
  /** Where the plan writes the model's output for the metrics. */
  private planPred = new Float32Array(0);
  /** planChunk's buffers: learning rates or the optimizer's step scalars in, losses, outputs and targets out. */
  private chunkBuf: { lrs: Float32Array; scalars: Float64Array; losses: Float64Array; preds: Float32Array; targets: Float32Array } | null = null;

  constructor(layers: Layer[] = [], options: { name?: string } = {}) {
    this.name = options.name ?? uniqueName('sequential');
    if (!Array.isArray(layers)) {
      throw new ValueError(`Sequential: expected an array of layers, received ${describe(layers)}`);
    }
    for (const l of layers) this.add(l);
  }

  /** Append a layer (its name must be unique in the model); builds it when the input shape is known. */
  add(layer: Layer): void {
    if (!(layer instanceof Layer)) {
      throw new ValueError(`Sequential "${this.name}": add() expects a Layer, received ${describe(layer)}`);
    }
    if (this._layers.includes(layer)) {
      throw new ValueError(`Sequential "${this.name}": layer ${layer.describeSelf()} is already in the model`);
    }
    // Weight names ('dense/kernel') key the optimizer state and saved files, so they must be unique.
    if (this._layers.some((l) => l.name === layer.name)) {
      throw new ValueError(
        `Sequential "${this.name}": all layers must have unique names, and "${layer.name}" is already used; ` +
          'pass { name } when creating the layer',
      );
    }
    this._layers.push(layer);
    if (this._layers.length === 1 && layer.batchInputShape) this.build(layer.batchInputShape);
    else if (this._inputShape) this.build(this._inputShape);
  }

  /**
   * Removes the last layer and returns it, as Keras's `pop`: the model keeps its input shape and
   * its optimizer (whose state follows the remaining weights by name); a compiled model re-packs its
   * weights. The usual first step of reusing a trained model under a new head.
   */
  pop(): Layer {
    if (this.fitting) throw new StateError(`Sequential "${this.name}": pop() called while fit() runs on this model; await the fit first`);
    const layer = this._layers.pop();
    if (!layer) throw new StateError(`Sequential "${this.name}": pop() on a model with no layers`);
    this.outputShapes.pop();
    this.plan = undefined;
    if (this.compiled && this.built) this.packWeights();
    return layer;
  }

  /** The layer of this name, or at this index (negative counts from the end), as Keras's `get_layer`. */
  getLayer(nameOrIndex: string | number): Layer {
    if (typeof nameOrIndex === 'number') {
      const n = this._layers.length;
      const i = nameOrIndex < 0 ? n + nameOrIndex : nameOrIndex;
      if (!Number.isInteger(nameOrIndex) || i < 0 || i >= n) {
        throw new ValueError(`Sequential "${this.name}": getLayer: index ${nameOrIndex} is out of range for ${n} layers`);
      }
      return this._layers[i]!;
    }
    if (typeof nameOrIndex !== 'string') {
      throw new ValueError(`Sequential "${this.name}": getLayer expects a layer name or index, received ${describe(nameOrIndex)}`);
    }
    const layer = this._layers.find((l) => l.name === nameOrIndex);
    if (!layer) {
      throw new ValueError(`Sequential "${this.name}": no layer named "${nameOrIndex}"; its layers are ${this._layers.map((l) => `"${l.name}"`).join(', ') || 'none'}`);
    }
    return layer;
  }

  /**
   * The value last given to `model.trainable = ...` (true at first). Setting it freezes (false) or
   * unfreezes (true) every layer the model holds, as Keras's `model.trainable` does. Unlike Keras it
   * is not a gate: a layer unfrozen or added afterwards trains by its own flag (Keras would keep
   * every weight of a non-trainable model frozen).
   */
  get trainable(): boolean {
    return this._trainable;
  }

  /** Freeze (false) or unfreeze (true) every layer of the model. Keras: `model.trainable = ...`. */
  set trainable(value: boolean) {
    if (typeof value !== 'boolean') throw new ValueError(`Sequential "${this.name}": trainable must be a boolean, received ${describe(value)}`);
    this._trainable = value;
    for (const layer of this._layers) layer.trainable = value;
  }

  private _trainable = true;
  /** Whether trainOnBatch has warned that nothing trains (once per model: it runs in loops). */
  private warnedUntrainable = false;

  /** `'loss'` and the compiled metrics' names, the order of trainOnBatch's and testOnBatch's lists (empty before compile). Keras: `metrics_names`. */
  get metricsNames(): string[] {
    return this.compiled ? ['loss', ...this.compiled.metrics.map((m) => m.name)] : [];
  }

  /** The compiled optimizer (callbacks such as reduceLROnPlateau adjust its learning rate). */
  get optimizer(): Optimizer | null {
    return this.compiled?.optimizer ?? null;
  }

  /** The compiled loss and metrics (saved with the model so loadModel can compile it), or null. */
  get compileConfig(): {
    /** The compiled loss. */
    loss: Loss;
    /** The compiled metrics (not the weighted ones). */
    metrics: Metric[];
    /** The compiled weighted metrics. */
    weightedMetrics: Metric[];
  } | null {
    return this.compiled
      ? {
          loss: this.compiled.loss,
          metrics: this.compiled.metrics.filter((m) => !this.compiled!.weighted.has(m)),
          weightedMetrics: this.compiled.metrics.filter((m) => this.compiled!.weighted.has(m)),
        }
      : null;
  }

  /** The model's layers in order. */
  get layers(): Layer[] {
    return [...this._layers];
  }

  /** The model's input shape (batch axis first, null when any), once built. */
  get inputShape(): SymbolicShape | null {
    return this._inputShape;
  }

  /** Output shape of the last layer (batch axis first), once built. */
  get outputShape(): SymbolicShape | null {
    return this.outputShapes[this.outputShapes.length - 1] ?? this._inputShape;
  }

  /** Whether the layers' weights exist (after `build`, an input shape on the first layer, or the first fit/predict). */
  get built(): boolean {
    return this._inputShape !== null;
  }

  /** Create every layer's weights for inputs of this shape (batch axis included, may be null). */
  build(inputShape: SymbolicShape): void {
    let shape = inputShape;
    const shapes: SymbolicShape[] = [];
    for (const layer of this._layers) {
      if (!layer.built) layer.build(shape);
      if (typeof layer.computeOutputShape !== 'function') {
        throw new StateError(`Sequential "${this.name}": layer ${layer.describeSelf()} has no computeOutputShape(inputShape); a layer of your own must implement it (Keras infers it, deepnode does not)`);
      }
      shape = layer.computeOutputShape(shape);
      shapes.push(shape);
      checkNoNestedLayers(layer);
    }
    this._inputShape = [...inputShape];
    this.outputShapes = shapes;
    if (this.compiled) this.packWeights();
  }

  /** Every weight of every layer (trainable and not), in layer order. */
  get weights(): Variable[] {
    return this._layers.flatMap((l) => l.weights);
  }

  /** The weights the optimizer updates, in layer order. */
  get trainableWeights(): Variable[] {
    return this._layers.flatMap((l) => l.trainableWeights);
  }

  /** The weights the optimizer leaves alone (moving statistics, frozen layers), in layer order. Keras: `non_trainable_weights`. */
  get nonTrainableWeights(): Variable[] {
    return this._layers.flatMap((l) => l.nonTrainableWeights);
  }

  /** Total number of scalars in all weights. */
  countParams(): number {
    return this._layers.reduce((n, l) => n + l.countParams(), 0);
  }

  /** Choose the optimizer, loss and metrics; required before fit / evaluate. */
  compile(args: CompileArgs): void {
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`Sequential "${this.name}": compile() expects { optimizer, loss, metrics }, received ${describe(args)}`);
    }
    checkOptions(`Sequential "${this.name}": compile`, args, ['optimizer', 'loss', 'metrics', 'weightedMetrics']);
    if (args.optimizer === undefined) throw new ValueError(`Sequential "${this.name}": compile() needs an optimizer`);
    if (args.loss === undefined) throw new ValueError(`Sequential "${this.name}": compile() needs a loss`);
    const optimizer = getOptimizer(args.optimizer);
    const loss = getLoss(args.loss);
    const metrics = uniqueMetricNames(this.name, args.metrics ?? [], (m) => getMetric(m, loss.name));
    const weighted = weightedMetricsNamed(this.name, args.weightedMetrics ?? [], metrics, loss.name);
    this.compiled = { optimizer, loss, metrics: [...metrics, ...weighted], weighted: new Set(weighted) };
    this.plan = undefined;
    if (this.built) this.packWeights();
  }

  /** Move the trainable weights (and their gradients) into one contiguous buffer each. */
  private packWeights(): void {
    const vars = this.trainableWeights;
    const total = vars.reduce((n, v) => n + v.size, 0);
    const params = new Float32Array(total);
    const grads = new Float32Array(total);
    const segments: Segment[] = [];
    let offset = 0;
    for (const v of vars) {
      params.set(v.data, offset);
      v.data = params.subarray(offset, offset + v.size);
      v.grad = grads.subarray(offset, offset + v.size);
      segments.push({ name: v.name, offset, size: v.size });
      offset += v.size;
    }
    this.params = params;
    this.grads = grads;
    this.segments = segments;
    this.packedVars = vars;
    // Fusing SGD into the backward pass needs each weight used by one op only, which holds here:
    // a Sequential refuses a layer it already holds.
    const fusable = new Set(this._layers.flatMap((l) => l.fusableWeights()).filter((v) => v.requiresGrad));
    this.fusable = fusable;
    this.unfusedSegments = segments.filter((_, i) => !fusable.has(vars[i]!));
    this.stateVars = this._layers.filter((l) => l.trainable).flatMap((l) => l.nonTrainableWeights);
    this.plan = undefined;
    this.stateSaved = new Float32Array(this.stateVars.reduce((n, v) => n + v.size, 0));
  }

  /**
   * Re-pack when the trainable set changed (a layer frozen or unfrozen) or when another model that
   * shares layers with this one packed them into its own buffer (Keras semantics: shared layers
   * are the same weights, so training either model changes both). The optimizer keeps the state
   * of weights that stay, matched by name.
   */
  private ensurePacked(): void {
    const vars = this.trainableWeights;
    const packed = this.packedVars;
    const same =
      vars.length === packed.length &&
      vars.every((v, i) => v === packed[i] && v.data.buffer === this.params.buffer);
    if (!same) this.packWeights();
  }

  /**
   * The forward pass over all layers; records gradients unless inside noGrad (see
   * `valueAndGrads` for a training step of your own). Each call starts the layers' activity
   * penalties afresh (Keras clears a layer's losses on each outermost call), so `losses` holds
   * those of this call.
   */
  call(x: Tensor, training = false): Tensor {
    if (!(x instanceof Tensor)) x = toTensor(x as TensorLike, 'call x');
    if (typeof training !== 'boolean') throw new ValueError(`Sequential "${this.name}": call: training must be a boolean, received ${describe(training)}`);
    this.ensureBuilt(x, 'call');
    for (const layer of this._layers) layer.activityLosses.length = 0;
    let y = x;
    for (const layer of this._layers) y = layer.call(y, { training });
    return y;
  }

  private ensureBuilt(x: Tensor, where: string): void {
    if (!this._inputShape) {
      if (x.rank < 1) throw new ShapeError(`Sequential "${this.name}": ${where}: input must have a batch axis, received shape []`);
      if (x.shape.slice(1).some((d) => d === 0)) {
        throw new ShapeError(`Sequential "${this.name}": ${where}: input shape [${x.shape.join(', ')}] has a feature axis of size 0`);
      }
      this.build([null, ...x.shape.slice(1)]);
      return;
    }
    const expected = this._inputShape;
    const ok = x.rank === expected.length && expected.every((d, i) => i === 0 || d === null || d === x.shape[i]);
    if (!ok) {
      const first = this._layers[0];
      throw new ShapeError(
        `Sequential "${this.name}": ${where}: ${first ? `layer ${first.describeSelf()} ` : ''}expected input shape ` +
          `${formatShape(expected)}, received shape [${x.shape.join(', ')}]`,
      );
    }
  }

  private requireCompiled(where: string): Compiled {
    if (!this.compiled) {
      throw new StateError(`Sequential "${this.name}": ${where}() called before compile(); call model.compile({ optimizer, loss }) first`);
    }
    return this.compiled;
  }

  /** Validates x and y; `finite: false` leaves the NaN/Inf scan to the caller (fit does it in slices). */
  /** fit's, evaluate's and predict's `verbose`: 0, 1 or 2 (the last two print nothing either way); `where` names the call in the error (fit's has none). */
  private checkVerbose(verbose: unknown, where?: string): void {
    if (verbose !== undefined && verbose !== 0 && verbose !== 1 && verbose !== 2) {
      throw new ValueError(`Sequential "${this.name}": ${where ? `${where}: ` : ''}verbose must be 0, 1 or 2, received ${describe(verbose)}`);
    }
  }

  /** fit's `callbacks`: one callback or a list of them (Keras flattens either). */
  private checkCallbacks(callbacks: unknown): Callback[] {
    if (callbacks === undefined || callbacks === null) return [];
    const list = Array.isArray(callbacks) ? callbacks : [callbacks];
    list.forEach((cb, i) => {
      const ok = typeof cb === 'object' && cb !== null && ['setModel', 'setParams', 'onEpochEnd'].every((f) => typeof (cb as Record<string, unknown>)[f] === 'function');
      if (!ok) {
        const where = Array.isArray(callbacks) ? `callbacks[${i}]` : 'callbacks';
        throw new ValueError(`Sequential "${this.name}": fit: ${where} must be a Callback (a subclass of callbacks.Callback, or callbacks.lambda({...})), received ${describe(cb)}`);
      }
    });
    return list as Callback[];
  }

  private checkXY(x: unknown, y: unknown, what: string, finite = true): [Tensor, Tensor] {
    const xt = toTensor(x, `${what} x`);
    const yt = toTensor(y, `${what} y`);
    if (xt.rank < 1 || xt.shape[0] === 0) throw new ValueError(`Sequential "${this.name}": ${what}: x is empty (shape [${xt.shape}])`);
    const n = xt.shape[0]!;
    if (yt.rank < 1 || yt.shape[0] !== n) {
      throw new ShapeError(`Sequential "${this.name}": ${what}: x has ${n} samples (shape [${xt.shape}]) but y has shape [${yt.shape}]`);
    }
    if (finite) {
      assertFinite(xt, `${what} x`);
      assertFinite(yt, `${what} y`);
    }
    return [xt, yt];
  }

  /**
   * assertFinite over a large dataset a slice at a time, letting the event loop run between slices
   * (a 55,000-image set is 43M floats: ~40 ms in one piece).
   */
  private async assertFiniteYielding(t: Tensor, what: string): Promise<void> {
    const slice = 1 << 22;
    for (let at = 0; at < t.size; at += slice) {
      if (native.firstNonFinite(t.data.subarray(at, at + slice)) >= 0) assertFinite(t, what);
      if (at + slice < t.size) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Check labels against the loss before any work: class ids in range for sparse cross-entropy. */
  private checkLabels(y: Tensor, compiled: Compiled, what: string): void {
    const last = this.outputShapes[this.outputShapes.length - 1];
    const units = last?.[last.length - 1];
    if (compiled.loss.name !== 'sparse_categorical_crossentropy' || typeof units !== 'number') return;
    const d = y.data;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (!(v >= 0 && v < units && Math.floor(v) === v)) {
        throw new ValueError(
          `Sequential "${this.name}": ${what}: label ${v} at index ${i} is not a class id in [0, ${units}) ` +
            `(the last layer has ${units} units)`,
        );
      }
    }
  }

  /** Train for `epochs` over (x, y) in shuffled mini-batches; resolves with the History of per-epoch logs (loss, metrics, `val_*`, `learning_rate`). */
  async fit(x: TensorLike, y: TensorLike, args: FitArgs = {}): Promise<History> {
    // Two fits of one model at once would interleave their batches and share its batch buffers.
    if (this.fitting) {
      throw new StateError(`Sequential "${this.name}": fit() is already running on this model; await it before starting another`);
    }
    this.fitting = true;
    try {
      return await this.fitOnce(x, y, args);
    } finally {
      this.fitting = false;
    }
  }

  /** Whether a fit() of this model is under way. */
  private fitting = false;

  private async fitOnce(x: TensorLike, y: TensorLike, args: FitArgs): Promise<History> {
    checkOptions(`Sequential "${this.name}": fit`, args, FIT_OPTIONS);
    const compiled = this.requireCompiled('fit');
    const epochs = intOption(this.name, 'epochs', args.epochs ?? 1, 0);
    const batchSize = intOption(this.name, 'batchSize', args.batchSize ?? 32, 1);
    const initialEpoch = intOption(this.name, 'initialEpoch', args.initialEpoch ?? 0, 0);
    const verbose = args.verbose ?? 1;
    this.checkVerbose(verbose);
    if (args.shuffle !== undefined && typeof args.shuffle !== 'boolean') {
      throw new ValueError(`Sequential "${this.name}": shuffle must be true or false, received ${describe(args.shuffle)}`);
    }
    const callbacks = this.checkCallbacks(args.callbacks);
    const split = args.validationSplit ?? 0;
    if (typeof split !== 'number' || !(split >= 0 && split < 1)) {
      throw new ValueError(`Sequential "${this.name}": validationSplit must be in [0, 1), received ${describe(split)}`);
    }
    let [xt, yt] = this.checkXY(x, y, 'fit', false);
    await this.assertFiniteYielding(xt, 'fit x');
    await this.assertFiniteYielding(yt, 'fit y');
    this.ensureBuilt(xt, 'fit');
    this.ensurePacked();
    this.checkLabels(yt, compiled, 'fit');
    // Keras 3's train_step warns the same way (and, like it, fit still runs: metrics, callbacks and
    // batch statistics of trainable BatchNormalization layers update).
    if (this.trainableWeights.length === 0) console.warn(`Sequential "${this.name}": fit: the model does not have any trainable weights`);
    let sw = this.sampleWeights('fit', yt, args.sampleWeight, args.classWeight, true);

    let val: [Tensor, Tensor] | null = null;
    let valWeights: Float32Array | null = null;
    if (args.validationData) {
      if (!Array.isArray(args.validationData) || (args.validationData.length !== 2 && args.validationData.length !== 3)) {
        throw new ValueError(`Sequential "${this.name}": validationData must be [x, y] or [x, y, sampleWeight], received ${describe(args.validationData)}`);
      }
      val = this.checkXY(args.validationData[0], args.validationData[1], 'validationData', false);
      await this.assertFiniteYielding(val[0], 'validationData x');
      await this.assertFiniteYielding(val[1], 'validationData y');
      this.ensureBuilt(val[0], 'validationData');
      this.checkLabels(val[1], compiled, 'validationData');
      valWeights = this.sampleWeights('validationData', val[1], args.validationData[2], undefined, false);
    } else if (split > 0) {
      const n = xt.shape[0]!;
      const at = Math.floor(n * (1 - split)); // Keras: the last fraction, before shuffling
      if (at === 0 || at === n) {
        throw new ValueError(`Sequential "${this.name}": validationSplit=${split} leaves no training or no validation samples out of ${n}`);
      }
      val = [sliceRows(xt, at, n), sliceRows(yt, at, n)];
      [xt, yt] = [sliceRows(xt, 0, at), sliceRows(yt, 0, at)];
      // Sample weights split with the data; class weights (per sample, so the training part's are
      // the first `at`) apply to the training part only (Keras 3 splits (x, y, sample_weight)
      // before turning class_weight into weights).
      if (sw !== null) [sw, valWeights] = [sw.subarray(0, at), args.sampleWeight !== undefined ? sw.subarray(at, n) : null];
    }

    const n = xt.shape[0]!;
    const steps = Math.ceil(n / batchSize);
    const history = new History();
    const cbs: Callback[] = [history, ...callbacks];
    if (verbose !== 0) cbs.push(new ProgbarLogger(verbose, args.stream));
    const list = new CallbackList(cbs);
    list.setModel(this);
    list.setParams({ epochs, steps, samples: n, batchSize, verbose });

    const xb = new Batcher(xt, batchSize);
    const yb = new Batcher(yt, batchSize);
    const wb = sw === null ? null : new Batcher(new Tensor(sw, [sw.length]), batchSize);
    let order: Int32Array | null = null;
    if (args.shuffle !== false) {
      order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
    }
    const lossMean = new Mean('loss');
    this.stopTraining = false;
    // The one-call native steps take no sample weights: weighted training goes batch by batch.
    const chunkable = sw === null && cbs.every(
      (cb) => cb instanceof ProgbarLogger || (cb.onBatchBegin === Callback.prototype.onBatchBegin && cb.onBatchEnd === Callback.prototype.onBatchEnd),
    );
    let chunk = 4;
    // The set-up above (data checks, packing, index) can take tens of ms on a large dataset: let the
    // event loop run before the first batch, whose one-time warm-up costs a few ms more.
    await new Promise<void>((resolve) => setImmediate(resolve));
    let lastYield = performance.now();

    await list.onTrainBegin({});
    let lastLogs: Logs = {};
    for (let epoch = initialEpoch; epoch < epochs && !this.stopTraining; epoch++) {
      if (order) globalRandom.shuffle(order);
      lossMean.reset();
      for (const m of compiled.metrics) m.reset();
      await list.onEpochBegin(epoch, {});
      // A fresh object per batch, as Keras gives each batch a dict of its own: a callback that
      // keeps a batch's logs does not see them change.
      let logs: Logs = {};
      let perStepNext = false;
      for (let step = 0; step < steps && !this.stopTraining; step++) {
        if (args.signal?.aborted) throw abortError(args.signal, this.name, epoch, step);
        if (chunkable && !perStepNext) {
          // Several batches in one native call (Keras's steps_per_execution, chosen here because no
          // callback looks at single batches); back to one batch per step for a non-finite loss.
          const t0 = performance.now();
          const want = Math.min(chunk, steps - step);
          const done = this.planChunk(compiled, xt, yt, order, step, batchSize, want, lossMean);
          if (done > 0) {
            // About 8 ms of steps per call: the event loop still runs every ~10 ms.
            chunk = Math.max(1, Math.min(256, Math.floor((8 * done) / Math.max(performance.now() - t0, 1e-3))));
            step += done - 1;
            logs = { loss: lossMean.result() };
            for (const m of compiled.metrics) logs[m.name] = m.result();
            const r = list.onBatchEnd(step, logs);
            if (r) await r;
            perStepNext = done < want; // the next batch's loss was not finite
            const now = performance.now();
            if (now - lastYield > 10) {
              await new Promise<void>((resolve) => setImmediate(resolve));
              lastYield = performance.now();
            }
            continue;
          }
          // done 0: this batch's loss was not finite; -1: the per-batch path is needed.
        }
        perStepNext = false;
        const start = step * batchSize;
        const end = Math.min(n, start + batchSize);
        const r0 = list.onBatchBegin(step, {});
        if (r0) await r0;
        this.batchX = xb.gather(order, start, end);
        this.batchY = yb.gather(order, start, end);
        const loss = this.trainStep(this.batchX, this.batchY, compiled, wb === null ? null : wb.gather(order, start, end).data);
        if (!Number.isFinite(loss)) {
          // The weights were not updated with this batch. Callbacks see the bad loss first, so
          // terminateOnNaN can stop training quietly; otherwise training fails loudly.
          logs = { loss };
          const r = list.onBatchEnd(step, logs);
          if (r) await r;
          if (this.stopTraining) break;
          this.batchX = this.batchY = null;
          throw new DeepnodeError(
            'ERR_NON_FINITE',
            `Sequential "${this.name}": the loss became ${loss} at epoch ${epoch + 1}, batch ${step + 1}; ` +
              `${this.nonFiniteCause}. The weights were left as they were before this batch. ` +
              'Try a lower learning rate, gradient clipping (clipnorm), or check the data',
          );
        }
        lossMean.update(loss, end - start);
        logs = { loss: lossMean.result() };
        for (const m of compiled.metrics) logs[m.name] = m.result();
        const r1 = list.onBatchEnd(step, logs);
        if (r1) await r1;
        // Let the event loop run (timers, I/O, progress) without paying for it on every batch.
        const now = performance.now();
        if (now - lastYield > 10) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
      }
      const epochLogs: Logs = { ...logs, learning_rate: compiled.optimizer.currentLearningRate() };
      if (val) {
        const v = await this.evaluateYielding(val[0], val[1], batchSize, compiled, valWeights);
        for (const [k, value] of Object.entries(v)) epochLogs[`val_${k}`] = value;
      }
      await list.onEpochEnd(epoch, epochLogs);
      lastLogs = epochLogs;
    }
    await list.onTrainEnd(lastLogs);
    this.batchX = this.batchY = null;
    return history;
  }

  /** One step on (x, y), with per-sample loss weights `w` (the per-op path) or without (the one-call plan where it fits). */
  private trainStep(x: Tensor, y: Tensor, compiled: Compiled, w: Float32Array | null = null): number {
    const planned = w === null ? this.planStep(x, y, compiled) : null;
    return planned ?? this.autogradStep(x, y, compiled, w);
  }

  /** The current plan for batches of up to `rows` samples (re-made when the weights moved), or null. */
  private currentPlan(compiled: Compiled, rows: number): TrainPlan | null {
    // The native plan holds up to 2^20 rows per batch; larger batches take the per-op path.
    if (!trainPlanEnabled() || rows > 2 ** 20) return null;
    let plan = this.plan;
    if (plan === undefined || (plan !== null && (plan.maxRows < rows || !plan.current()))) {
      plan = this.plan = TrainPlan.build(this._layers, this._inputShape!, compiled.loss, this.fusable, Math.max(rows, 1));
      this.constrained = this._layers.filter((l) => l.hasConstraints);
      if (plan) this.planPred = new Float32Array(plan.maxRows * plan.classes);
    }
    return plan;
  }

  /**
   * Up to `count` steps from batch `first` of the epoch in one native call: plain SGD fused into
   * the backward pass, or the optimizer's own update after each batch's gradients (its native
   * kernel, with the scalars its apply() would compute: Optimizer.planUpdate). Returns how many
   * ran (their losses and metrics are added), fewer when a loss was not finite (that batch changed
   * nothing and must go through `trainStep`), or -1 when the model, optimizer (no native kernel)
   * or a constraint without a native form (NonNeg, a norm over trailing axes) need the per-batch
   * path. Norm constraints run after each step's update.
   */
  private planChunk(
    compiled: Compiled, xt: Tensor, yt: Tensor, order: Int32Array | null, first: number, batchSize: number, count: number, lossMean: Mean,
  ): number {
    // A batch size beyond the data is one batch of all of it (one step per epoch).
    batchSize = Math.min(batchSize, Math.max(xt.shape[0] ?? 0, 1));
    const plan = this.currentPlan(compiled, batchSize);
    const optimizer = compiled.optimizer;
    if (plan === null || !plan.fits(xt, yt)) return -1;
    const constraints = this.constrained.length > 0 ? this.nativeConstraints() : null;
    if (constraints === undefined) return -1;
    const n = xt.shape[0]!;
    const metrics = compiled.metrics.length > 0;
    const buf = this.chunkBuffers(count, batchSize, plan, metrics);
    const it0 = optimizer.iterations;
    let update: NativeUpdate | null = null;
    if (this.fusable.size > 0 && optimizer.fusedSgdRate() !== null) {
      try {
        for (let j = 0; j < count; j++) {
          optimizer.iterations = it0 + j;
          buf.lrs[j] = optimizer.fusedSgdRate()!;
        }
      } finally {
        optimizer.iterations = it0;
      }
    } else {
      update = optimizer.planUpdate(this.params, this.grads, this.segments, count, buf.scalars);
      if (update === null) return -1;
    }
    const done = plan.run(xt, yt, order, first * batchSize, batchSize, count, buf.lrs, buf.losses, metrics ? buf.preds : null, metrics ? buf.targets : null, update, constraints);
    if (update === null) optimizer.iterations = it0 + done;
    else optimizer.finishPlannedSteps(done);
    const tWidth = plan.targetWidth;
    for (let j = 0; j < done; j++) {
      const rows = Math.min(batchSize, n - (first + j) * batchSize);
      lossMean.update(buf.losses[j]!, rows);
      if (metrics) {
        const off = j * batchSize;
        const pred = new Tensor(buf.preds.subarray(off * plan.classes, (off + rows) * plan.classes), [rows, plan.classes]);
        const target = new Tensor(buf.targets.subarray(off * tWidth, (off + rows) * tWidth), [rows, ...yt.shape.slice(1)]);
        for (const m of compiled.metrics) m.update(pred, target);
      }
    }
    return done;
  }

  /**
   * The layers' constraints (of trainable weights, in applyConstraints' order) in the native form a
   * plan applies after each step, their weights located in the flat parameter buffer; undefined
   * when one has no native form.
   */
  private nativeConstraints(): NativeConstraints | undefined {
    const list: number[] = [];
    const params = this.params;
    for (const layer of this.constrained)
      for (const [v, c] of layer.constraintPairs) {
        if (!v.requiresGrad) continue;
        const f = c.nativeForm?.(v) ?? null;
        const offset = (v.data.byteOffset - params.byteOffset) / 4;
        if (f === null || f.rows * f.cols !== v.size || v.size === 0 || v.data.buffer !== params.buffer || offset < 0 || offset + v.size > params.length) return undefined;
        list.push(offset, f.rows, f.cols, f.kind, f.minValue, f.maxValue, f.rate);
      }
    return { params, list: Float64Array.from(list) };
  }

  /** planChunk's buffers for `count` batches (outputs and targets only when metrics need them). */
  private chunkBuffers(count: number, batchSize: number, plan: TrainPlan, metrics: boolean) {
    const per = metrics ? batchSize : 0;
    let b = this.chunkBuf;
    if (b === null || b.lrs.length < count || b.preds.length < count * per * plan.classes || b.targets.length < count * per * plan.targetWidth) {
      const cap = Math.max(count, b?.lrs.length ?? 0);
      b = this.chunkBuf = {
        lrs: new Float32Array(cap),
        scalars: new Float64Array(cap * UPDATE_SCALARS),
        losses: new Float64Array(cap),
        preds: new Float32Array(cap * per * plan.classes),
        targets: new Float32Array(cap * per * plan.targetWidth),
      };
    }
    return b;
  }

  /**
   * The training step as one native call (train_plan.ts), when the model qualifies; null when it
   * does not, or when the loss was not finite (the plan then changed nothing, and the autograd
   * step runs to find and report where the non-finite value came from).
   */
  private planStep(x: Tensor, y: Tensor, compiled: Compiled): number | null {
    const rows = x.shape[0] ?? 0;
    const plan = this.currentPlan(compiled, rows);
    if (plan === null || rows === 0) return null;
    // Shapes the plan was not made for: the autograd path reports them.
    if (!plan.fits(x, y)) return null;
    const optimizer = compiled.optimizer;
    const lr = this.fusable.size > 0 ? optimizer.fusedSgdRate() : null;
    const wantPred = compiled.metrics.length > 0;
    const pred = wantPred ? this.planPred.subarray(0, rows * plan.classes) : null;
    const loss = plan.step(x, y, lr, pred);
    if (!Number.isFinite(loss)) return null;
    if (lr === null) optimizer.apply(this.params, this.grads, this.segments);
    else optimizer.finishFusedStep(this.params, this.grads, this.unfusedSegments);
    for (const layer of this.constrained) layer.applyConstraints();
    if (pred) {
      const out = new Tensor(pred, [rows, plan.classes]);
      for (const m of compiled.metrics) m.update(out, y);
    }
    return loss;
  }

  private autogradStep(x: Tensor, y: Tensor, compiled: Compiled, w: Float32Array | null = null): number {
    return scope(() => {
      const outs = this.stepOutputs;
      const state = this.stateVars;
      for (let i = 0, o = 0; i < state.length; o += state[i]!.size, i++) this.stateSaved.set(state[i]!.data, o);
      let pred = x;
      for (let i = 0; i < this._layers.length; i++) outs[i] = pred = this._layers[i]!.call(pred, { training: true });
      const dataLoss = compiled.loss.compute(pred, y, w);
      const lossTensor = this.totalLoss(dataLoss);
      const loss = lossTensor.data[0]!;
      if (Number.isFinite(loss)) {
        if (lossTensor.requiresGrad) {
          const optimizer = compiled.optimizer;
          const lr = this.fusable.size > 0 ? optimizer.fusedSgdRate() : null;
          if (lr === null) {
            this.grads.fill(0);
            backward(lossTensor);
            optimizer.apply(this.params, this.grads, this.segments);
          } else {
            // Plain SGD: Dense layers update their weights as their backward pass reaches them
            // (Keras's result: every gradient still comes from the weights before this step).
            for (const s of this.unfusedSegments) this.grads.fill(0, s.offset, s.offset + s.size);
            withFusedSgd(lr, this.fusable, () => backward(lossTensor));
            optimizer.finishFusedStep(this.params, this.grads, this.unfusedSegments);
          }
          for (const layer of this._layers) layer.applyConstraints();
        }
      } else {
        this.nonFiniteCause = this.diagnoseNonFinite(x, outs, dataLoss, lossTensor);
        for (let i = 0, o = 0; i < state.length; o += state[i]!.size, i++) {
          state[i]!.data.set(this.stateSaved.subarray(o, o + state[i]!.size));
        }
      }
      for (const m of compiled.metrics) m.update(pred, y, compiled.weighted.has(m) ? w : null);
      outs.length = 0;
      return loss;
    });
  }

  /**
   * Where a non-finite loss came from, found on the failure path only: the first layer whose output
   * holds a NaN or Inf in this step's forward pass; else, after a backward pass (whose gradients
   * are discarded), the layer whose gradient first went non-finite walking back from the loss.
   */
  private diagnoseNonFinite(x: Tensor, outs: readonly Tensor[], dataLoss: Tensor, total: Tensor): string {
    const n = this._layers.length;
    const where = (i: number) => `${this._layers[i]!.describeSelf()} (layer ${i + 1} of ${n})`;
    const badWeight = (vars: readonly Variable[]) => {
      for (const v of vars) {
        const at = native.firstNonFinite(v.data);
        if (at >= 0) return `${v.name}[${at}] = ${v.data[at]}`;
      }
      return null;
    };
    for (let i = 0; i < n; i++) {
      const out = outs[i]!;
      const at = native.firstNonFinite(out.data);
      if (at < 0) continue;
      const w = badWeight(this._layers[i]!.weights);
      return (
        `the first non-finite value appeared in the output of ${where(i)}: ${out.data[at]} at flat index ${at}` +
        (w
          ? `; its weights were already non-finite (${w}), so an earlier update overflowed`
          : `; its input and weights were finite (max |input| ${fmt(maxAbs([(i === 0 ? x : outs[i - 1]!).data]))}, ` +
            `max |weight| ${fmt(maxAbs(this._layers[i]!.weights.map((v) => v.data)))})`)
      );
    }
    if (Number.isFinite(dataLoss.data[0]!)) {
      return 'every layer output and the data loss were finite; the weight or activity penalties were not';
    }
    if (!total.requiresGrad) return 'every layer output was finite; the loss computation itself overflowed';
    // Forward was finite: follow the gradient from the loss back to the input, layer by layer.
    this.grads.fill(0);
    backward(total);
    const bad = (g: Float32Array | null | undefined) => g !== null && g !== undefined && native.firstNonFinite(g) >= 0;
    let cause = 'every layer output and gradient was finite; the loss computation itself overflowed';
    for (let i = n - 1; i >= 0; i--) {
      if (i === n - 1 && bad(outs[i]!.grad)) {
        cause = `the first non-finite value appeared in the gradient of the loss with respect to the output of ${where(i)}`;
        break;
      }
      const w = this._layers[i]!.trainableWeights.find((v) => bad(v.grad));
      if (w) {
        cause = `the first non-finite value appeared in the gradient of ${where(i)} for its weight "${w.name}"`;
        break;
      }
      if (i > 0 && bad(outs[i - 1]!.grad)) {
        cause = `the first non-finite value appeared in the gradient that ${where(i)} passes to its input`;
        break;
      }
    }
    this.grads.fill(0);
    return cause;
  }

  /** The batch `fit` is training on right now (for callbacks such as gradientStats), else null. */
  get currentBatch(): [Tensor, Tensor] | null {
    return this.batchX && this.batchY ? [this.batchX, this.batchY] : null;
  }

  /**
   * Diagnostics hook (callbacks.gradientStats uses it): one forward and backward pass over (x, y)
   * in inference mode (Dropout off, BatchNormalization on its moving statistics), handing `visit`
   * each layer's output and gradients. It changes no weight, optimizer slot or random stream, and
   * leaves the gradient buffer as it found it; the probes are valid only inside `visit`.
   */
  probeLayers<T>(x: TensorLike, y: TensorLike, visit: (probes: LayerProbe[]) => T): T {
    const compiled = this.requireCompiled('probeLayers');
    const [xt, yt] = this.checkXY(x, y, 'probeLayers');
    this.ensureBuilt(xt, 'probeLayers');
    this.checkLabels(yt, compiled, 'probeLayers');
    this.ensurePacked();
    const savedGrads = this.grads.slice();
    try {
      return scope(() => {
        const outs: Tensor[] = [];
        let pred = xt;
        for (const layer of this._layers) outs.push((pred = layer.call(pred, { training: false })));
        const loss = this.totalLoss(compiled.loss.compute(pred, yt));
        this.grads.fill(0);
        if (loss.requiresGrad) backward(loss);
        return visit(
          this._layers.map((layer, i) => ({
            layer,
            output: outs[i]!,
            outputGrad: outs[i]!.grad,
            weightGrads: layer.trainableWeights.map((v) => ({ name: v.name, grad: v.grad ?? new Float32Array(v.size) })),
          })),
        );
      });
    } finally {
      this.grads.set(savedGrads);
    }
  }

  /**
   * The data loss plus the layers' weight penalties and the activity penalties their last call
   * produced, as Keras adds `model.losses` to the loss it logs and differentiates.
   */
  private totalLoss(dataLoss: Tensor): Tensor {
    let total = dataLoss;
    for (const layer of this._layers) {
      for (const r of layer.regularizationLosses()) total = add(total, reshape(r, []));
      for (const a of layer.activityLosses) total = add(total, reshape(a, []));
      layer.activityLosses.length = 0;
    }
    return total;
  }

  /**
   * The penalties to add to a loss of your own, as scalar tensors (recorded for autograd): each
   * trainable weight's regularizer penalty, and the activity penalties of the last
   * `call(x, true)`. What `fit` adds to the data loss. Keras: `model.losses`.
   */
  get losses(): Tensor[] {
    const out: Tensor[] = [];
    for (const layer of this._layers) {
      for (const r of layer.regularizationLosses()) out.push(reshape(r, []));
      for (const a of layer.activityLosses) out.push(reshape(a, []));
    }
    return out;
  }

  /**
   * Per-sample loss weights from `sampleWeight` (one non-negative finite number per sample of y) or
   * from `classWeight` (Keras's class_weight_to_sample_weights: the weight of each sample's class,
   * its label or the argmax of a one-hot row, 1 for a class not listed), or null for neither.
   * `classAllowed: false` refuses classWeight (validation data and evaluate take sample weights only).
   */
  private sampleWeights(where: string, y: Tensor, sampleWeight: unknown, classWeight: unknown, classAllowed: boolean): Float32Array | null {
    const who = `Sequential "${this.name}": ${where}`;
    const n = y.shape[0] ?? 0;
    const hasSample = sampleWeight !== undefined && sampleWeight !== null;
    const hasClass = classWeight !== undefined && classWeight !== null;
    if (hasSample && hasClass) throw new ValueError(`${who}: sampleWeight and classWeight cannot be given together (Keras refuses both)`);
    if (hasSample) {
      const t = toTensor(sampleWeight as TensorLike, `${where} sampleWeight`);
      if (!(t.rank === 1 || (t.rank === 2 && t.shape[1] === 1)) || t.shape[0] !== n) {
        throw new ShapeError(`${who}: sampleWeight must hold one weight per sample, shape [${n}], received shape [${t.shape.join(', ')}]`);
      }
      const w = Float32Array.from(t.data);
      const bad = w.findIndex((v) => !(Number.isFinite(v) && v >= 0));
      if (bad >= 0) throw new ValueError(`${who}: sampleWeight[${bad}] is ${w[bad]}; weights must be finite and >= 0`);
      return w;
    }
    if (!hasClass) return null;
    if (!classAllowed) throw new ValueError(`${who}: classWeight is not accepted here (only sampleWeight)`);
    const entries: [unknown, unknown][] =
      classWeight instanceof Map ? [...classWeight.entries()] : typeof classWeight === 'object' ? Object.entries(classWeight as object) : [];
    if (typeof classWeight !== 'object' || entries.length === 0) {
      throw new ValueError(`${who}: classWeight must map class indices to weights, e.g. { 0: 1, 1: 5 }, received ${describe(classWeight)}`);
    }
    const byClass = new Map<number, number>();
    for (const [k, v] of entries) {
      const cls = typeof k === 'number' ? k : typeof k === 'string' && /^\d+$/.test(k) ? Number(k) : Number.NaN;
      if (!Number.isInteger(cls) || cls < 0) throw new ValueError(`${who}: classWeight key ${describe(k)} is not a class index (an integer >= 0)`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ValueError(`${who}: classWeight[${cls}] is ${describe(v)}; weights must be finite numbers >= 0`);
      byClass.set(cls, v);
    }
    const per = n === 0 ? 0 : y.size / n;
    const d = y.data;
    const w = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let cls: number;
      if (per > 1) {
        if (y.rank > 2) throw new ShapeError(`${who}: classWeight needs one label per sample (shape [n] or one-hot [n, classes]), received labels of shape [${y.shape.join(', ')}]`);
        cls = 0;
        for (let j = 1; j < per; j++) if (d[i * per + j]! > d[i * per + cls]!) cls = j;
      } else {
        cls = roundHalfEven(d[i]!);
      }
      w[i] = byClass.get(cls) ?? 1;
    }
    return w;
  }

  /**
   * One training step on the batch (x, y): the step `fit` takes for each batch (the same kernels,
   * the optimizer's update, constraints), without callbacks. The metrics are reset first, so
   * they describe this batch alone. Returns the loss (the data loss plus penalties) when the model
   * has no metrics, else `[loss, ...metrics]` in compile order, or `{ loss, ...metrics }` with
   * `returnDict`. A loss that is not finite leaves the weights as they were and throws, as in `fit`.
   * Keras: `train_on_batch(x, y, return_dict=False)`.
   */
  trainOnBatch(x: TensorLike, y: TensorLike, args: TrainOnBatchArgs = {}): number | number[] | Record<string, number> {
    const where = 'trainOnBatch';
    const returnDict = this.onBatchArgs(where, args, ['returnDict', 'sampleWeight', 'classWeight']);
    if (this.fitting) throw new StateError(`Sequential "${this.name}": ${where}() called while fit() runs on this model; await the fit first`);
    const compiled = this.requireCompiled(where);
    const [xt, yt] = this.checkXY(x, y, where);
    this.ensureBuilt(xt, where);
    this.ensurePacked();
    this.checkLabels(yt, compiled, where);
    const w = this.sampleWeights(where, yt, args.sampleWeight, args.classWeight, true);
    if (this.trainableWeights.length === 0 && !this.warnedUntrainable) {
      this.warnedUntrainable = true;
      console.warn(`Sequential "${this.name}": trainOnBatch: the model does not have any trainable weights`);
    }
    for (const m of compiled.metrics) m.reset();
    const loss = this.trainStep(xt, yt, compiled, w);
    if (!Number.isFinite(loss)) {
      for (const m of compiled.metrics) m.reset();
      throw new DeepnodeError(
        'ERR_NON_FINITE',
        `Sequential "${this.name}": ${where}: the loss became ${loss}; ${this.nonFiniteCause}. ` +
          'The weights were left as they were before this batch. Try a lower learning rate, gradient clipping (clipnorm), or check the data',
      );
    }
    const logs: Record<string, number> = { loss };
    for (const m of compiled.metrics) logs[m.name] = m.result();
    for (const m of compiled.metrics) m.reset();
    return batchResult(logs, returnDict);
  }

  /**
   * The loss and metrics of the batch (x, y) in inference mode, as `evaluate` computes them for
   * one batch; returned as `trainOnBatch` returns them. Keras: `test_on_batch(x, y, return_dict=False)`.
   */
  testOnBatch(x: TensorLike, y: TensorLike, args: TestOnBatchArgs = {}): number | number[] | Record<string, number> {
    const where = 'testOnBatch';
    const returnDict = this.onBatchArgs(where, args, ['returnDict', 'sampleWeight']);
    const compiled = this.requireCompiled(where);
    const [xt, yt] = this.checkXY(x, y, where);
    this.ensureBuilt(xt, where);
    this.checkLabels(yt, compiled, where);
    const w = this.sampleWeights(where, yt, args.sampleWeight, undefined, false);
    const lossMean = new Mean('loss');
    for (const m of compiled.metrics) m.reset();
    this.evaluateBatch(xt, yt, 0, xt.shape[0]!, compiled, lossMean, w);
    const logs = this.evaluateResult(compiled, lossMean);
    if (!Number.isFinite(logs.loss!)) {
      throw new ValueError(
        `Sequential "${this.name}": ${where}: the loss is ${logs.loss} although the inputs and labels are finite: ` +
          'a layer overflowed float32 or a weight is not finite',
        'ERR_NON_FINITE',
      );
    }
    return batchResult(logs, returnDict);
  }

  /** The outputs for one batch x in inference mode, in one pass: `predict` without batching. Keras: `predict_on_batch`. */
  predictOnBatch(x: TensorLike): Tensor {
    const xt = toTensor(x, 'predictOnBatch x');
    return this.predict(xt, { batchSize: Math.max(xt.shape[0] ?? 1, 1) });
  }

  private onBatchArgs(where: string, args: { returnDict?: boolean }, known: readonly string[]): boolean {
    if (args === null || typeof args !== 'object') throw new ValueError(`Sequential "${this.name}": ${where}: options must be an object, received ${describe(args)}`);
    checkOptions(`Sequential "${this.name}": ${where}`, args, known);
    if (args.returnDict !== undefined && typeof args.returnDict !== 'boolean') {
      throw new ValueError(`Sequential "${this.name}": ${where}: returnDict must be a boolean, received ${describe(args.returnDict)}`);
    }
    return args.returnDict === true;
  }

  /** Mean loss and metrics over (x, y), e.g. { loss: 0.33, accuracy: 0.88 }. */
  evaluate(x: TensorLike, y: TensorLike, args: EvaluateArgs = {}): Record<string, number> {
    checkOptions(`Sequential "${this.name}": evaluate`, args, ['batchSize', 'verbose', 'sampleWeight']);
    this.checkVerbose(args.verbose, 'evaluate');
    const compiled = this.requireCompiled('evaluate');
    const batchSize = intOption(this.name, 'batchSize', args.batchSize ?? 32, 1);
    const [xt, yt] = this.checkXY(x, y, 'evaluate');
    this.ensureBuilt(xt, 'evaluate');
    this.checkLabels(yt, compiled, 'evaluate');
    const w = this.sampleWeights('evaluate', yt, args.sampleWeight, undefined, false);
    const n = xt.shape[0]!;
    const lossMean = new Mean('loss');
    for (const m of compiled.metrics) m.reset();
    for (let start = 0; start < n; start += batchSize) this.evaluateBatch(xt, yt, start, Math.min(n, start + batchSize), compiled, lossMean, w);
    const result = this.evaluateResult(compiled, lossMean);
    if (!Number.isFinite(result.loss!)) {
      throw new ValueError(
        `Sequential "${this.name}": evaluate: the loss is ${result.loss} although the inputs and labels are finite: ` +
          'a layer overflowed float32 or a weight is not finite',
        'ERR_NON_FINITE',
      );
    }
    return result;
  }

  /** evaluate() for fit's validation data (already checked), yielding to the event loop as fit does. */
  private async evaluateYielding(xt: Tensor, yt: Tensor, batchSize: number, compiled: Compiled, w: Float32Array | null): Promise<Record<string, number>> {
    const n = xt.shape[0]!;
    const lossMean = new Mean('loss');
    for (const m of compiled.metrics) m.reset();
    let lastYield = performance.now();
    for (let start = 0; start < n; start += batchSize) {
      this.evaluateBatch(xt, yt, start, Math.min(n, start + batchSize), compiled, lossMean, w);
      if (performance.now() - lastYield > 10) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
    return this.evaluateResult(compiled, lossMean);
  }

  private evaluateBatch(xt: Tensor, yt: Tensor, start: number, end: number, compiled: Compiled, lossMean: Mean, w: Float32Array | null = null): void {
    noGrad(() =>
      scope(() => {
        const yb = sliceRows(yt, start, end);
        const pred = this.call(sliceRows(xt, start, end), false);
        lossMean.update(this.totalLoss(compiled.loss.compute(pred, yb, w && w.subarray(start, end))).data[0]!, end - start);
        for (const m of compiled.metrics) m.update(pred, yb, compiled.weighted.has(m) && w ? w.subarray(start, end) : null);
      }),
    );
  }

  private evaluateResult(compiled: Compiled, lossMean: Mean): Record<string, number> {
    const out: Record<string, number> = { loss: lossMean.result() };
    for (const m of compiled.metrics) out[m.name] = m.result();
    for (const m of compiled.metrics) m.reset();
    return out;
  }

  /** Outputs for x, computed in batches; a new tensor the caller owns. */
  predict(x: TensorLike, args: PredictArgs = {}): Tensor {
    checkOptions(`Sequential "${this.name}": predict`, args, ['batchSize', 'training', 'verbose']);
    this.checkVerbose(args.verbose, 'predict');
    if (args.training !== undefined && typeof args.training !== 'boolean') {
      throw new ValueError(`Sequential "${this.name}": predict: training must be a boolean, received ${describe(args.training)}`);
    }
    const batchSize = intOption(this.name, 'batchSize', args.batchSize ?? 32, 1);
    const xt = toTensor(x, 'predict x');
    if (xt.rank < 1) throw new ShapeError(`Sequential "${this.name}": predict: x must have a batch axis, received shape []`);
    assertFinite(xt, 'predict x');
    this.ensureBuilt(xt, 'predict');
    const n = xt.shape[0]!;
    const outShape = this.outputShapes[this.outputShapes.length - 1] ?? this._inputShape!;
    const per = sizeOf(outShape.slice(1) as number[]);
    const out = new Float32Array(n * per);
    noGrad(() => {
      for (let start = 0; start < n; start += batchSize) {
        const end = Math.min(n, start + batchSize);
        scope(() => out.set(this.call(sliceRows(xt, start, end), args.training === true).data, start * per));
      }
    });
    const bad = native.firstNonFinite(out);
    if (bad >= 0) {
      throw new ValueError(
        `Sequential "${this.name}": predict: the output is ${out[bad]} for sample ${Math.floor(bad / Math.max(per, 1))} ` +
          `(element ${bad % Math.max(per, 1)}) although its inputs are finite: a layer overflowed float32 or a weight is not finite`,
        'ERR_NON_FINITE',
      );
    }
    return new Tensor(out, [n, ...(outShape.slice(1) as number[])]);
  }

  /** Print a Keras-like table: layer (type), output shape, parameter count, totals. */
  summary(printFn: (line: string) => void = console.log): void {
    if (!this.built) {
      throw new StateError(
        `Sequential "${this.name}": summary() needs a built model; give the first layer an inputShape or call build() / fit() first`,
      );
    }
    // Columns grow to fit the longest entry, with two spaces between them (Keras's widths otherwise).
    const names = this._layers.map((l) => `${l.name} (${l.className})`);
    const shapes = this.outputShapes.map((sh) => formatShape(sh));
    const cols = [Math.max(33, ...names.map((n) => n.length + 2)), Math.max(26, ...shapes.map((t) => t.length + 2)), 12];
    const row = (a: string, b: string, c: string) => ` ${a.padEnd(cols[0]!)}${b.padEnd(cols[1]!)}${c}`;
    const width = cols[0]! + cols[1]! + cols[2]! + 1;
    printFn(`Model: "${this.name}"`);
    printFn('_'.repeat(width));
    printFn(row('Layer (type)', 'Output Shape', 'Param #'));
    printFn('='.repeat(width));
    this._layers.forEach((l, i) => {
      printFn(row(`${l.name} (${l.className})`, formatShape(this.outputShapes[i]!), l.countParams().toLocaleString('en-US')));
      if (i < this._layers.length - 1) printFn('');
    });
    printFn('='.repeat(width));
    const total = this.countParams();
    const trainable = this.trainableWeights.reduce((n, w) => n + w.size, 0);
    const bytes = (p: number) => {
      const b = p * 4;
      return b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MB` : b >= 1024 ? `${(b / 1024).toFixed(2)} KB` : `${b} B`;
    };
    printFn(`Total params: ${total.toLocaleString('en-US')} (${bytes(total)})`);
    printFn(`Trainable params: ${trainable.toLocaleString('en-US')} (${bytes(trainable)})`);
    printFn(`Non-trainable params: ${(total - trainable).toLocaleString('en-US')} (${bytes(total - trainable)})`);
    printFn('_'.repeat(width));
  }

  /**
   * Save in the TensorFlow.js layers format (dir/model.json + a weights file), crash-safely; with
   * the optimizer state unless includeOptimizer is false. See src/saving/model_io.ts.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<SaveResult> {
    return saveModel(this, dir, options);
  }

  /** Save only the weights (model.json without topology); read them back with loadWeights(). */
  async saveWeights(dir: string): Promise<SaveResult> {
    return saveWeights(this, dir);
  }

  /** Load weights by name from a directory written by save() or saveWeights() (or tfjs). */
  async loadWeights(dir: string): Promise<void> {
    return loadWeights(this, dir);
  }

  /** Copies of every weight, in the order of `weights`. */
  getWeights(): Tensor[] {
    return this._layers.flatMap((l) => l.getWeights());
  }

  /** Set every weight from tensors in the order of `weights` (count and shapes must match). */
  setWeights(values: readonly Tensor[]): void {
    const counts = this._layers.map((l) => l.weights.length);
    const total = counts.reduce((a, b) => a + b, 0);
    if (values.length !== total) {
      throw new ShapeError(`Sequential "${this.name}": setWeights expected ${total} arrays, received ${values.length}`);
    }
    let i = 0;
    this._layers.forEach((l, j) => {
      l.setWeights(values.slice(i, i + counts[j]!));
      i += counts[j]!;
    });
  }
}

function maxAbs(arrays: readonly Float32Array[]): number {
  let m = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

const fmt = (v: number) => v.toPrecision(3);

/**
 * The compiled metrics, each under a name of its own: the names key the logs beside 'loss'. A
 * function whose name is taken (two anonymous functions are both 'custom_metric') gets the next
 * free `name_1`, `name_2`, ... as Keras renames duplicates; any other clash is an error.
 */
function uniqueMetricNames(model: string, specs: readonly unknown[], make: (spec: never) => Metric): Metric[] {
  if (!Array.isArray(specs)) throw new ValueError(`Sequential "${model}": compile: metrics must be an array, received ${describe(specs)}`);
  const taken = new Set<string>(['loss']);
  return specs.map((spec, i) => {
    let m = make(spec as never);
    if (taken.has(m.name)) {
      if (typeof spec !== 'function') {
        throw new ValueError(
          `Sequential "${model}": compile: metrics[${i}] is named "${m.name}", which ${m.name === 'loss' ? 'is the loss' : 'an earlier metric has'}; ` +
            'metric names key the logs and must be unique',
        );
      }
      let k = 1;
      while (taken.has(`${m.name}_${k}`)) k++;
      m = new FunctionMetric(spec as MetricFn, `${m.name}_${k}`);
    }
    taken.add(m.name);
    return m;
  });
}

/**
 * compile's weightedMetrics, named as Keras 3's CompileMetrics.result does: a name that the loss or
 * an earlier metric has becomes `weighted_<name>`, then `weighted_<name>_1`, ... A metric object of
 * the user's own cannot be renamed: its clash is an error.
 */
function weightedMetricsNamed(model: string, specs: readonly unknown[], before: readonly Metric[], lossName: string): Metric[] {
  if (!Array.isArray(specs)) throw new ValueError(`Sequential "${model}": compile: weightedMetrics must be an array, received ${describe(specs)}`);
  const taken = new Set<string>(['loss', ...before.map((m) => m.name)]);
  return specs.map((spec, i) => {
    let m = getMetric(spec as MetricId, lossName);
    if (taken.has(m.name)) {
      if (typeof spec !== 'function' && typeof spec !== 'string') {
        throw new ValueError(`Sequential "${model}": compile: weightedMetrics[${i}] is named "${m.name}", which the loss or an earlier metric has; give it another name`);
      }
      let name = `weighted_${m.name}`;
      for (let k = 1; taken.has(name); k++) name = `weighted_${m.name}_${k}`;
      m = getMetric(spec as MetricId, lossName, name);
    }
    taken.add(m.name);
    return m;
  });
}

/** numpy's round: halves go to the even neighbour (0.5 -> 0, 1.5 -> 2), as Keras rounds class labels. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** trainOnBatch's and testOnBatch's result: the loss alone without metrics, else a list, or the logs themselves (Keras 3). */
function batchResult(logs: Record<string, number>, returnDict: boolean): number | number[] | Record<string, number> {
  if (returnDict) return logs;
  const values = Object.values(logs);
  return values.length === 1 ? values[0]! : values;
}

function abortError(signal: AbortSignal, model: string, epoch: number, step: number): Error {
  const reason = signal.reason instanceof Error ? `: ${signal.reason.message}` : '';
  const err = new Error(`Sequential "${model}": fit aborted at epoch ${epoch + 1}, batch ${step + 1}${reason}`, {
    cause: signal.reason,
  });
  err.name = 'AbortError';
  (err as Error & { code: string }).code = 'ABORT_ERR';
  return err;
}

const FIT_OPTIONS: readonly (keyof FitArgs)[] = [
  'epochs', 'batchSize', 'shuffle', 'validationData', 'validationSplit', 'callbacks', 'verbose', 'initialEpoch', 'stream', 'signal', 'sampleWeight', 'classWeight',
];

function intOption(model: string, option: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ValueError(`Sequential "${model}": ${option} must be an integer >= ${min}, received ${describe(v)}`);
  }
  return v;
}

/**
 * A layer of the user's own that holds other layers (as properties, or in arrays) would train
 * wrongly here: only weights made with its own addWeight are packed, updated and saved, so a
 * nested Dense's weights would silently never change. Refuse it until nested layers are tracked.
 */
function checkNoNestedLayers(layer: Layer): void {
  for (const [key, value] of Object.entries(layer)) {
    const nested = Array.isArray(value) ? value.find((v) => v instanceof Layer && v !== layer) : value instanceof Layer && value !== layer ? value : undefined;
    if (nested) {
      throw new ValueError(
        `layer ${layer.describeSelf()} holds layer ${(nested as Layer).describeSelf()} in its property "${key}"; deepnode does not track ` +
          "the weights of nested layers (they would never train or be saved): add that layer to the Sequential itself, or create the weights with this layer's addWeight",
      );
    }
  }
}
