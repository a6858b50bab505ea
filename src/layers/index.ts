import { Dense, DenseArgs } from './dense';
import { Flatten } from './flatten';
import { Activation, ActivationArgs } from './activation';
import { LayerArgs } from './layer';

export { Layer, Variable, formatShape } from './layer';
export type { LayerArgs, SymbolicShape, CallArgs, AddWeightOptions } from './layer';
export { Dense, Flatten, Activation };
export type { DenseArgs, ActivationArgs };

// Factories in the style of tfjs-layers: layers.dense({ units: 10 }).
/** Creates a new {@link Dense} (same as `new Dense(...)`). Keras: `keras.layers.Dense`. */
export const dense = (args: DenseArgs) => new Dense(args);
/** Creates a new {@link Flatten} (same as `new Flatten(...)`). Keras: `keras.layers.Flatten`. */
export const flatten = (args?: LayerArgs) => new Flatten(args);
/** Creates a new {@link Activation} (same as `new Activation(...)`). Keras: `keras.layers.Activation`. */
export const activation = (args: ActivationArgs) => new Activation(args);

// BatchNormalization and the dropout family.
import { BatchNormalization, BatchNormalizationArgs } from './normalization';
import { Dropout, DropoutArgs, AlphaDropout, GaussianDropout, GaussianDropoutArgs, GaussianNoise, GaussianNoiseArgs } from './dropout';
export { BatchNormalization, Dropout, AlphaDropout, GaussianDropout, GaussianNoise };
export { NoiseLayer } from './dropout';
export type { BatchNormalizationArgs, DropoutArgs, GaussianDropoutArgs, GaussianNoiseArgs };
export type { NoiseShape } from './dropout';
/** Creates a new {@link BatchNormalization} (same as `new BatchNormalization(...)`). Keras: `keras.layers.BatchNormalization`. */
export const batchNormalization = (args?: BatchNormalizationArgs) => new BatchNormalization(args);
/** Creates a new {@link Dropout} (same as `new Dropout(...)`). Keras: `keras.layers.Dropout`. */
export const dropout = (args: DropoutArgs) => new Dropout(args);
/** Creates a new {@link AlphaDropout} (same as `new AlphaDropout(...)`). Keras: `keras.layers.AlphaDropout`. */
export const alphaDropout = (args: DropoutArgs) => new AlphaDropout(args);
/** Creates a new {@link GaussianDropout} (same as `new GaussianDropout(...)`). Keras: `keras.layers.GaussianDropout`. */
export const gaussianDropout = (args: GaussianDropoutArgs) => new GaussianDropout(args);
/** Creates a new {@link GaussianNoise} (same as `new GaussianNoise(...)`). Keras: `keras.layers.GaussianNoise`. */
export const gaussianNoise = (args: GaussianNoiseArgs) => new GaussianNoise(args);

// Activation layers (LeakyReLU, PReLU, RReLU, ELU, ReLU, Softmax) and layers from Keras configs.
export * from './activations';
export * from './serialization';
