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
