import { Tensor } from '../tensor';
import { Layer, LayerArgs, SymbolicShape, CallArgs } from './layer';
import { reshape } from '../ops/shape';

/** Flattens each sample to one dimension: [batch, d1, d2, ...] -> [batch, d1*d2*...]. Zero-copy. Keras: `keras.layers.Flatten`. */
export class Flatten extends Layer {
  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override get className(): string {
    return 'Flatten';
  }

  call(x: Tensor, _args: CallArgs): Tensor {
    if (x.rank === 2) return x;
    const batch = x.shape[0] ?? 1;
    return reshape(x, [batch, batch === 0 ? 0 : x.size / batch]);
  }

  computeOutputShape(inputShape: SymbolicShape): SymbolicShape {
    const rest = inputShape.slice(1);
    const known = rest.every((d) => d !== null);
    return [inputShape[0] ?? null, known ? (rest as number[]).reduce((a, b) => a * b, 1) : null];
  }
}
