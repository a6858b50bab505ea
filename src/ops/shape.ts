import { Tensor, Shape, sizeOf } from '../tensor';
import { ShapeError } from '../errors';
import { native } from '../backend/native';
import { needsGrad, record, gradTarget } from '../autograd/engine';

/** Same data seen with another shape (zero-copy); the gradient flows back unchanged. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  if (sizeOf(shape) !== x.size) {
    throw new ShapeError(`reshape: cannot view shape [${x.shape}] (${x.size} elements) as [${shape}]`);
  }
  const y = new Tensor(x.data, shape);
  if (!needsGrad(x)) return y;
  return record(y, [x], () => {
    const [dx, accumulate] = gradTarget(x);
    if (accumulate) native.axpy(1, y.grad!, dx);
    else dx.set(y.grad!);
  });
}
