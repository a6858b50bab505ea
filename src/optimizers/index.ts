import { SGD, SGDArgs } from './sgd';
import { Optimizer } from './optimizer';
import { unknownId } from '../errors';

export { Optimizer, SGD };
export type { SGDArgs };
export type { Segment, OptimizerArgs } from './optimizer';

export const sgd = (args?: SGDArgs) => new SGD(args);

export type OptimizerId = 'sgd' | 'SGD';

/** Resolve 'sgd' (Keras defaults) or pass an Optimizer through. */
export function getOptimizer(id: OptimizerId | Optimizer | string): Optimizer {
  if (id instanceof Optimizer) return id;
  if (typeof id === 'string' && id.toLowerCase() === 'sgd') return new SGD();
  return unknownId('optimizer', id, ['sgd']);
}
