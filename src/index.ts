/**
 * deepnode: deep-learning training for Node.js with native multi-threaded SIMD kernels behind a
 * Keras-style API.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, addonPath, packageRoot } from './backend/native';
import { ValueError, describe } from './errors';

export { Tensor } from './tensor';
export type { Shape } from './tensor';
export { Sequential } from './models/sequential';
export { setTrainPlanEnabled } from './models/train_plan';
export { mcPredict } from './models/mc_dropout';
export { cloneModel } from './models/clone';
export type { McPredictArgs, McPrediction } from './models/mc_dropout';
export type { CompileArgs, FitArgs, EvaluateArgs, PredictArgs, ClassWeight, TrainOnBatchArgs, TestOnBatchArgs } from './models/sequential';
export { DeepnodeError, ShapeError, ValueError, StateError, IOError } from './errors';
export type { ErrorCode } from './errors';
export { noGrad, backward, valueAndGrads } from './autograd/engine';
export type { ValueAndGrads } from './autograd/engine';
export { setSeed, Random } from './random';
export * as layers from './layers';
export * as optimizers from './optimizers';
export * as losses from './losses';
export * as metrics from './metrics';
export * as initializers from './initializers';
export * as regularizers from './regularizers';
export * as constraints from './constraints';
export * as activations from './activations';
export * as callbacks from './callbacks';
export * as datasets from './datasets';
export { toCategorical } from './datasets/arrays';
export * as ops from './ops';
export * as inference from './inference';
export { foldBatchNorm, quantize, prune, sparsity } from './inference';
export * as saving from './saving';
export { loadModel } from './saving';
export * as plot from './plot';
export { plotHistory } from './plot';
// Types that public signatures use, exported so the API reference documents them.
export type { TensorLike } from './models/data';
export type { LayerProbe } from './models/sequential';
export type { Writable } from './callbacks/progbar';
export { ActId } from './backend/native';
export type { WeightDType } from './saving/format';
export type { ReluOptions } from './ops/activations_ext';
export type { NamedTensor } from './optimizers/optimizer';

/**
 * Threads used by the native kernels (default: OMP_NUM_THREADS when set, else the CPUs the process
 * may run on). One pool serves the products and the large passes; it runs on the calling thread
 * alone while another process holds the cores.
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw new ValueError(`setNumThreads: n must be an integer from 1 to 1024, received ${describe(n)}`);
  }
  native.setNumThreads(n);
}

/** Threads the native kernels currently use (see {@link setNumThreads}). */
export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Build facts: chosen CPU kernel, threads, N-API version and where the addon was loaded from. */
export function info(): {
  /** deepnode package version (from package.json). */
  version: string;
  /** GEMM micro-kernel chosen at load: `"avx512"`, `"avx2"` or `"generic"` (env `DEEPNODE_ISA` forces one). */
  isa: string;
  /** Threads the native kernels use (see {@link setNumThreads}). */
  threads: number;
  /** N-API version the addon was built against. */
  napiVersion: number;
  /** Absolute path of the loaded `deepnode.node` addon. */
  addon: string;
  /** `true` when the addon came from `prebuilds/` rather than a source build. */
  prebuilt: boolean;
} {
  const i = native.info();
  const addon = addonPath();
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return { version: pkg.version, ...i, addon, prebuilt: addon.split(path.sep).includes('prebuilds') };
}
