import { Dense, DenseArgs } from './dense';
import { Flatten } from './flatten';
import { Activation, ActivationArgs } from './activation';
import { LayerArgs } from './layer';

export { Layer, Variable, formatShape } from './layer';
export type { LayerArgs, SymbolicShape, CallArgs, AddWeightOptions } from './layer';
export { Dense, Flatten, Activation };
export type { DenseArgs, ActivationArgs };

// Factories in the style of tfjs-layers: layers.dense({ units: 10 }).
export const dense = (args: DenseArgs) => new Dense(args);
export const flatten = (args?: LayerArgs) => new Flatten(args);
export const activation = (args: ActivationArgs) => new Activation(args);

// BatchNormalization and the dropout family.
import { BatchNormalization, BatchNormalizationArgs } from './normalization';
import { Dropout, DropoutArgs, AlphaDropout, GaussianDropout, GaussianDropoutArgs, GaussianNoise, GaussianNoiseArgs } from './dropout';
export { BatchNormalization, Dropout, AlphaDropout, GaussianDropout, GaussianNoise };
export { NoiseLayer } from './dropout';
export type { BatchNormalizationArgs, DropoutArgs, GaussianDropoutArgs, GaussianNoiseArgs };
export type { NoiseShape } from './dropout';
export const batchNormalization = (args?: BatchNormalizationArgs) => new BatchNormalization(args);
export const dropout = (args: DropoutArgs) => new Dropout(args);
export const alphaDropout = (args: DropoutArgs) => new AlphaDropout(args);
export const gaussianDropout = (args: GaussianDropoutArgs) => new GaussianDropout(args);
export const gaussianNoise = (args: GaussianNoiseArgs) => new GaussianNoise(args);

// Activation layers (LeakyReLU, PReLU, RReLU, ELU, ReLU, Softmax) and layers from Keras configs.
export * from './activations';
export * from './serialization';
