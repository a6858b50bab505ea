/**
 * Layers from their Keras-style configs: `layerFromConfig({ class_name: 'Dense', config })` is the
 * inverse of `serializeLayer(layer)` ({ class_name, config: layer.getConfig() }). The registry is
 * open: a layer class registers itself with one line,
 *   registerLayer('BatchNormalization', (c) => new BatchNormalization({ ...layerArgsFromConfig(c), ... }));
 * Configs use Keras's snake_case keys; constructors take the library's camelCase options.
 */
import { Layer, LayerArgs, SymbolicShape } from './layer';
import { Dense } from './dense';
import { Flatten } from './flatten';
import { Activation } from './activation';
import { LeakyReLU, PReLU, RReLU, ELU, ReLU, Softmax } from './activations';
import type { ActivationId } from '../activations';
import type { InitializerId, SerializedInitializer } from '../initializers';
import type { RegularizerIdentifier } from '../regularizers';
import type { ConstraintIdentifier } from '../constraints';
import { ValueError, describe, unknownId } from '../errors';

/** A layer's config as returned by `getConfig()`: Keras snake_case keys to JSON values. */
export type LayerConfig = Record<string, unknown>;
/** Rebuilds a layer from its config (registered with {@link registerLayer}). */
export type LayerFromConfig = (config: LayerConfig) => Layer;

/** A layer as Keras serializes it. */
export interface SerializedLayer {
  /** Keras class name, e.g. `'Dense'`. */
  class_name: string;
  /** The layer's `getConfig()`. */
  config: LayerConfig;
}

const registry = new Map<string, LayerFromConfig>();

/** Make `layerFromConfig` able to rebuild `className` (Keras's class name, e.g. 'BatchNormalization'). */
export function registerLayer(className: string, fromConfig: LayerFromConfig): void {
  if (typeof className !== 'string' || className === '' || typeof fromConfig !== 'function') {
    throw new ValueError(`registerLayer: expected (className, fromConfig), received (${describe(className)}, ${describe(fromConfig)})`);
  }
  if (registry.has(className) && registry.get(className) !== fromConfig) {
    throw new ValueError(`registerLayer: class_name ${describe(className)} is already registered`);
  }
  registry.set(className, fromConfig);
}

/** Class names `layerFromConfig` knows, sorted. */
export function registeredLayers(): string[] {
  return [...registry.keys()].sort();
}

/** Rebuild a layer from { class_name, config } (unbuilt: copy weights with setWeights after building). */
export function layerFromConfig(spec: SerializedLayer): Layer {
  if (spec === null || typeof spec !== 'object' || typeof spec.class_name !== 'string') {
    throw new ValueError(`layerFromConfig: expected { class_name, config }, received ${describe(spec)}`);
  }
  const make = registry.get(spec.class_name);
  if (!make) unknownId('layer class_name', spec.class_name, registeredLayers());
  const config = spec.config ?? {};
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new ValueError(`layerFromConfig: config of ${spec.class_name} must be an object, received ${describe(config)}`);
  }
  return make(config);
}

/** { class_name, config } of a layer. */
export function serializeLayer(layer: Layer): SerializedLayer {
  return { class_name: layer.className, config: layer.getConfig() };
}

/** The base Layer options in a config: name, trainable and the batch input shape. */
export function layerArgsFromConfig(config: LayerConfig): LayerArgs {
  const args: { -readonly [K in keyof LayerArgs]: LayerArgs[K] } = {};
  if (typeof config.name === 'string') args.name = config.name;
  if (typeof config.trainable === 'boolean') args.trainable = config.trainable;
  // Keras 2 writes batch_input_shape; Keras 3's InputLayer writes batch_shape.
  const shape = config.batch_input_shape ?? config.batch_shape;
  if (Array.isArray(shape)) args.batchInputShape = shape as SymbolicShape;
  return args;
}

/** config[key] unless it is missing or null. */
function opt<T>(config: LayerConfig, key: string): T | undefined {
  const v = config[key];
  return v === undefined || v === null ? undefined : (v as T);
}

type InitArg = InitializerId | SerializedInitializer;

registerLayer('Dense', (c) =>
  new Dense({
    ...layerArgsFromConfig(c),
    units: c.units as number,
    activation: opt<ActivationId>(c, 'activation'),
    useBias: opt<boolean>(c, 'use_bias'),
    kernelInitializer: opt<InitArg>(c, 'kernel_initializer'),
    biasInitializer: opt<InitArg>(c, 'bias_initializer'),
    kernelRegularizer: opt<RegularizerIdentifier>(c, 'kernel_regularizer'),
    biasRegularizer: opt<RegularizerIdentifier>(c, 'bias_regularizer'),
    activityRegularizer: opt<RegularizerIdentifier>(c, 'activity_regularizer'),
    kernelConstraint: opt<ConstraintIdentifier>(c, 'kernel_constraint'),
    biasConstraint: opt<ConstraintIdentifier>(c, 'bias_constraint'),
  }),
);
registerLayer('Flatten', (c) => new Flatten(layerArgsFromConfig(c)));
registerLayer('Activation', (c) => new Activation({ ...layerArgsFromConfig(c), activation: c.activation as ActivationId }));
registerLayer('LeakyReLU', (c) =>
  // Keras 2 configs call the slope alpha.
  new LeakyReLU({ ...layerArgsFromConfig(c), negativeSlope: opt<number>(c, 'negative_slope') ?? opt<number>(c, 'alpha') }),
);
registerLayer('PReLU', (c) =>
  new PReLU({
    ...layerArgsFromConfig(c),
    alphaInitializer: opt<InitArg>(c, 'alpha_initializer'),
    alphaRegularizer: opt<RegularizerIdentifier>(c, 'alpha_regularizer'),
    alphaConstraint: opt<ConstraintIdentifier>(c, 'alpha_constraint'),
    sharedAxes: opt<number[]>(c, 'shared_axes'),
  }),
);
registerLayer('RReLU', (c) =>
  new RReLU({ ...layerArgsFromConfig(c), lower: opt(c, 'lower'), upper: opt(c, 'upper'), seed: opt(c, 'seed') }),
);
registerLayer('ELU', (c) => new ELU({ ...layerArgsFromConfig(c), alpha: opt(c, 'alpha') }));
registerLayer('ReLU', (c) =>
  new ReLU({
    ...layerArgsFromConfig(c),
    maxValue: opt(c, 'max_value'),
    negativeSlope: opt(c, 'negative_slope'),
    threshold: opt(c, 'threshold'),
  }),
);
registerLayer('Softmax', (c) => new Softmax({ ...layerArgsFromConfig(c), axis: opt<number | number[]>(c, 'axis') }));
