/**
 * Loads the native addon (a prebuild from prebuilds/<platform>-<arch>/ when one matches, else the
 * local build/Release) and declares its functions. The binding re-checks every size it is given;
 * this module adds nothing but types, so calling it costs one N-API call.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeepnodeError } from '../errors';

/** Activation ids shared with native/kernels.h (enum class Act). */
export enum ActId {
  /** Identity: y = x. */
  Linear = 0,
  /** max(x, 0). */
  Relu = 1,
  /** x > 0 ? x : alpha * x. */
  LeakyRelu = 2,
  /** x > 0 ? x : alpha * (exp(x) - 1). */
  Elu = 3,
  /** Scaled ELU with Klambauer et al.'s fixed constants. */
  Selu = 4,
  /** 1 / (1 + exp(-x)). */
  Sigmoid = 5,
  /** tanh(x). */
  Tanh = 6,
  /** log(1 + exp(x)). */
  Softplus = 7,
  /** x * sigmoid(alpha * x) (SiLU when alpha = 1). */
  Swish = 8,
  /** GELU with the exact erf form. */
  GeluExact = 9,
  /** GELU with the tanh approximation. */
  GeluTanh = 10,
  /** Keras 3's piecewise-linear sigmoid: clip(x + 3, 0, 6) / 6. */
  HardSigmoid = 11,
  /** x / (1 + abs(x)). */
  Softsign = 12,
  /** exp(x). */
  Exponential = 13,
  /** min(max(x, 0), 6). */
  Relu6 = 14,
}

type F32 = Float32Array;

/** The optimizer update kernels a training plan can run after each step (native/train_plan.h UpdateKind). */
export enum UpdateKind {
  Sgd = 0,
  Adagrad = 1,
  Rmsprop = 2,
  Adam = 3,
  Adamax = 4,
  Nadam = 5,
}

/**
 * An optimizer's update of the model's flat buffers in the form trainPlanRun takes (native/train_plan.h
 * PlanUpdate): the kernel, its buffers and constants, and `scalars`, UPDATE_SCALARS per step.
 */
export interface NativeUpdate {
  kind: UpdateKind;
  params: F32;
  grads: F32;
  /** The optimizer's slots in declaration order, null where an option leaves one out; always 3 entries. */
  slots: [F32 | null, F32 | null, F32 | null];
  /** Adam, Adamax, Nadam; RMSprop's rho. */
  beta1: number;
  beta2: number;
  epsilon: number;
  /** RMSprop's momentum. */
  momentum: number;
  nesterov: boolean;
  /**
   * Per step: the rate (lr; Adam's alpha; Adamax's lr_hat), the kernel's decay (weightDecay * lr or
   * 0), SGD's momentum or Nadam's cm, cg, cv, then the per-weight decay (see decaySegments).
   */
  scalars: Float64Array;
  /** Gradient clipping before each update: 0 none, 1 clipvalue, 2 clipnorm (per weight), 3 globalClipnorm. */
  clip: number;
  /** Its threshold (> 0 when clip is set). */
  clipValue: number;
  /** The weights' (offset, size) pairs in the flat buffers, for clipnorm. */
  segments: Float64Array | null;
  /** With excludeFromWeightDecay: the (offset, size) pairs of the weights that decay (by scalar 5 of each step, the kernel's decay then 0); else null. */
  decaySegments: Float64Array | null;
}

/** An optimizer's update kernel and constants: a NativeUpdate without its buffers, scalars and clipping. */
export type UpdateKernel = Omit<NativeUpdate, 'params' | 'grads' | 'scalars' | 'clip' | 'clipValue' | 'segments' | 'decaySegments'>;

/**
 * Norm constraints a training plan applies after each step (native/train_plan.h PlanConstraint):
 * per constraint 7 numbers in `list`, (offset in params, rows, cols, kind 0 max / 1 unit / 2 min-max,
 * minValue, maxValue, rate), the weight being params[offset...] as a rows x cols matrix.
 */
export interface NativeConstraints {
  params: F32;
  list: Float64Array;
}

/** Doubles of NativeUpdate.scalars per step. */
export const UPDATE_SCALARS = 6;

export interface NativeBinding {
  /**
   * C = alpha op(A) op(B) + beta C + bias. With act, actAlpha and Y also Y = act(C), applied by the
   * GEMM to each block of C as it is finished (Y has C's layout, ldc apart; it may be C itself).
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    A: F32, lda: number, B: F32, ldb: number, beta: number, C: F32, ldc: number, bias: F32 | null,
  ): void;
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    A: F32, lda: number, B: F32, ldb: number, beta: number, C: F32, ldc: number, bias: F32 | null,
    act: ActId, actAlpha: number, Y: F32,
  ): void;
  activationForward(act: ActId, x: F32, y: F32, alpha: number): void;
  activationBackward(act: ActId, x: F32, y: F32, dy: F32, dx: F32, alpha: number): void;
  /** dx = dy * f'(x) over [rows, cols], and db[j] += dbScale * sum_r dx[r, j] in the same pass. */
  activationBackwardBias(act: ActId, x: F32, y: F32, dy: F32, dx: F32, alpha: number, rows: number, cols: number, db: F32, dbScale: number): void;
  softmax(x: F32, y: F32, rows: number, cols: number): void;
  logSoftmax(x: F32, y: F32, rows: number, cols: number): void;
  softmaxBackward(y: F32, dy: F32, dx: F32, rows: number, cols: number): void;
  sparseSoftmaxXent(logits: F32, labels: F32, rows: number, cols: number, grad: F32 | null, scale: number, rowLoss: F32 | null): number;
  softmaxXent(logits: F32, targets: F32, rows: number, cols: number, grad: F32 | null, scale: number, rowLoss: F32 | null): number;
  sigmoidBce(logits: F32, targets: F32, grad: F32 | null, scale: number): number;
  bce(probs: F32, targets: F32, eps: number, grad: F32 | null, scale: number): number;
  categoricalXent(probs: F32, targets: F32, rows: number, cols: number, eps: number, grad: F32 | null, scale: number): number;
  squaredError(pred: F32, targets: F32, grad: F32 | null, scale: number): number;
  columnSum(dy: F32, rows: number, cols: number, db: F32, accumulate: boolean): void;
  sum(x: F32): number;
  sumSquares(x: F32): number;
  firstNonFinite(x: F32): number;
  /** out[r] = src[index[r]] for rows of `per` floats (index null: the first `count` rows). */
  gatherRows(src: F32, rows: number, per: number, index: Int32Array | null, count: number, out: F32): void;
  axpy(alpha: number, x: F32, y: F32): void;
  /** y += g where x > 0, y -= g where x < 0 (the L1 penalty's gradient); y unchanged where x is 0 or NaN. */
  addSign(g: number, x: F32, y: F32): void;
  /**
   * Keras's norm constraints in place on a [rows, cols] weight, norms over the rows (native/kernels.h):
   * kind 0 max-norm (maxValue), 1 unit-norm, 2 min-max-norm (minValue, maxValue, rate).
   */
  constrainColumnNorms(w: F32, rows: number, cols: number, kind: number, minValue: number, maxValue: number, rate: number): void;
  /**
   * A whole training step of a Dense/BatchNormalization stack as one call (native/train_plan.h;
   * src/models/train_plan.ts builds the layer specs). Returns an opaque handle.
   */
  trainPlanCreate(layers: Record<string, unknown>[], maxRows: number, loss: number): object;
  /**
   * Up to `steps` steps of a plan over consecutive batches, each followed by `update` (an
   * optimizer's step, see Optimizer.planUpdate), or plain SGD at `lrs` when it is null; returns
   * the steps done.
   */
  trainPlanRun(
    plan: object, xSrc: F32, tSrc: F32, index: Int32Array | null, n: number, start: number, batch: number, steps: number,
    lrs: F32, losses: Float64Array, preds: F32 | null, targetsOut: F32 | null, softmaxPred: boolean, keys: Uint32Array | null,
    update: NativeUpdate | null, constraints: NativeConstraints | null,
  ): number;
  /**
   * One step of a plan; returns the mean loss (not finite: nothing was changed). keys: the noise
   * layers' keys as (high, low) word pairs, one pair per noise layer (per step, for trainPlanRun).
   */
  trainPlanStep(
    plan: object, x: F32, targets: F32, rows: number, fused: boolean, lr: number, pred: F32 | null, softmaxPred: boolean,
    keys: Uint32Array | null,
  ): number;
  scale(alpha: number, x: F32): void;
  sparseArgmaxMatches(pred: F32, labels: F32, rows: number, cols: number): number;
  argmaxMatches(pred: F32, targets: F32, rows: number, cols: number): number;
  binaryMatches(pred: F32, targets: F32, threshold: number): number;
  sgdStep(param: F32, grad: F32, velocity: F32 | null, lr: number, momentum: number, nesterov: boolean): void;
  // optimizers (native/optimizers.h): one fused step over the flat buffer; decay = weightDecay * lr
  sgdUpdate(param: F32, grad: F32, velocity: F32 | null, lr: number, momentum: number, nesterov: boolean, decay: number): void;
  adagradUpdate(param: F32, grad: F32, accumulator: F32, lr: number, epsilon: number, decay: number): void;
  rmspropUpdate(
    param: F32, grad: F32, velocity: F32, momentum: F32 | null, averageGradient: F32 | null,
    lr: number, rho: number, momentumCoef: number, epsilon: number, decay: number,
  ): void;
  adamUpdate(
    param: F32, grad: F32, m: F32, v: F32, vHat: F32 | null,
    alpha: number, beta1: number, beta2: number, epsilon: number, decay: number,
  ): void;
  adamaxUpdate(param: F32, grad: F32, m: F32, u: F32, lrHat: number, beta1: number, beta2: number, epsilon: number, decay: number): void;
  nadamUpdate(
    param: F32, grad: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, epsilon: number,
    cm: number, cg: number, cv: number, decay: number,
  ): void;
  clipByValue(grad: F32, clipvalue: number): void;
  /** Scales grad to norm <= clipnorm; returns the norm before clipping (NaN/Inf norm: grad set to NaN). */
  clipByNorm(grad: F32, clipnorm: number): number;
  // BatchNormalization (native/batchnorm.h): x as [outer, C, inner]; training writes batch mean/var.
  batchnormForward(
    x: F32, y: F32, outer: number, C: number, inner: number, gamma: F32 | null, beta: F32 | null,
    mean: F32, variance: F32, eps: number, training: boolean,
  ): void;
  /** Accumulates (+=) into dx, dgamma, dbeta (each may be null). */
  batchnormBackward(
    x: F32, dy: F32, outer: number, C: number, inner: number, mean: F32, variance: F32, gamma: F32 | null,
    eps: number, training: boolean, dx: F32 | null, dgamma: F32 | null, dbeta: F32 | null,
  ): void;
  // Dropout family (native/dropout.h): counter-based noise keyed by two 32-bit words.
  bernoulliMask(out: F32, keyHi: number, keyLo: number, rate: number, keepValue: number, dropValue: number): void;
  normalFill(out: F32, keyHi: number, keyLo: number, mean: number, stddev: number): void;
  /** y = x * mul + add (null mul = 1, null add = 0). */
  noiseApply(x: F32, mul: F32 | null, add: F32 | null, y: F32): void;
  /** dx += dy * mul (null mul = 1). */
  noiseBackward(dy: F32, mul: F32 | null, dx: F32): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  info(): { isa: string; threads: number; napiVersion: number };
  // activation layers (native/activations_ext.h); the *Backward kernels accumulate into dx / dalpha
  preluForward(x: F32, alpha: F32, alphaIndex: Int32Array | null, y: F32, batch: number, sample: number): void;
  preluBackward(
    x: F32, alpha: F32, alphaIndex: Int32Array | null, dy: F32, dx: F32 | null, dalpha: F32 | null,
    batch: number, sample: number,
  ): void;
  rreluForwardTrain(x: F32, y: F32, noise: F32, lower: number, upper: number, seed: number): void;
  rreluBackward(noise: F32, dy: F32, dx: F32): void;
  reluGeneralForward(x: F32, y: F32, negativeSlope: number, threshold: number, hasMax: boolean, maxValue: number): void;
  reluGeneralBackward(
    x: F32, dy: F32, dx: F32, negativeSlope: number, threshold: number, hasMax: boolean, maxValue: number,
  ): void;
  softmaxAxis(x: F32, y: F32, outer: number, axis: number, inner: number): void;
  softmaxAxisBackward(y: F32, dy: F32, dx: F32, outer: number, axis: number, inner: number): void;
  mishForward(x: F32, y: F32): void;
  mishBackward(x: F32, dy: F32, dx: F32): void;
  sumAbs(x: F32): number;
  // end activation layers
  // quantized inference (native/quantized.h): float16 bits / per-channel int8 weights, row-major [k, n]
  /** y = binary16 bits of x, round to nearest even (y.length >= x.length). */
  f32ToF16(x: F32, y: Uint16Array): void;
  f16ToF32(x: Uint16Array, y: F32): void;
  /** scales[j] = max|W[:, j]| / 127, q = round(W / scale) in [-127, 127] (W is [k, n]). */
  quantizeInt8(W: F32, k: number, n: number, q: Int8Array, scales: F32): void;
  /** Y[m, n] = X[m, k] W + bias; path 0 auto, 1 direct portable, 2 direct SIMD, 3 float32 panels + sgemm. */
  gemmF16(m: number, n: number, k: number, X: F32, W: Uint16Array, bias: F32 | null, Y: F32, path: number): void;
  /** Y[m, n] = X[m, k] (q * scales) + bias; path as gemmF16. */
  gemmI8(m: number, n: number, k: number, X: F32, q: Int8Array, scales: F32, bias: F32 | null, Y: F32, path: number): void;
  /** 'avx2' or 'generic': the kernels the quantized products use. */
  quantizedIsa(): string;
  // end quantized inference
}

/** The package root: the nearest folder above this file whose package.json is deepnode's. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'deepnode') return dir;
      } catch {
        // keep walking up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new DeepnodeError('ERR_NATIVE', `deepnode: cannot find the package root above ${__dirname}`);
    dir = up;
  }
}

function libc(): string {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const glibc = report?.header?.glibcVersionRuntime;
  return glibc ? `glibc ${glibc}` : process.platform === 'linux' ? 'musl (or unknown libc)' : process.platform;
}

let loadedFrom = '';

function load(): NativeBinding {
  const root = packageRoot();
  // DEEPNODE_ADDON points at a specific .node (e.g. a cmake-js build in its own folder).
  const override = process.env.DEEPNODE_ADDON;
  if (override) {
    loadedFrom = path.resolve(override);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(loadedFrom) as NativeBinding;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as ((dir: string) => NativeBinding) & { resolve(dir: string): string };
    loadedFrom = nodeGypBuild.resolve(root);
    return nodeGypBuild(root);
  } catch (e) {
    const err = e as Error;
    // The addon's own check of the CPU (native/binding.cc, Init): no rebuild helps there.
    if (/x86-64-v2/.test(err.message)) {
      throw new DeepnodeError(
        'ERR_NATIVE',
        `${err.message}.\n  platform: ${process.platform}-${process.arch}, Node ${process.version}. deepnode cannot run on this machine.`,
      );
    }
    throw new DeepnodeError(
      'ERR_NATIVE',
      `deepnode: could not load the native addon (${err.message}).\n` +
        `  platform: ${process.platform}-${process.arch}, ${libc()}, Node ${process.version}, ` +
        `N-API ${process.versions.napi}\n` +
        `  No prebuilt binary matched and no local build was found under ${root}.\n` +
        `  Fix: run \`npm rebuild deepnode\` with a C++ toolchain (g++ or clang, make, python3) installed, ` +
        `or report your platform at the deepnode issue tracker.`,
    );
  }
}

export const native: NativeBinding = load();

/** Where the addon was loaded from: a prebuild or a source build. */
export function addonPath(): string {
  return loadedFrom;
}
