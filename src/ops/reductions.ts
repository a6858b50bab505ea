/**
 * Whole-tensor reductions with gradients, the building blocks of weight penalties:
 * L1 = l1 * sumAbs(w), L2 = l2 * sumSquares(w) (Keras's regularizers).
 */
import { Tensor } from '../tensor';
import { native } from '../backend/native';
import { output, needsGrad, record, gradOf } from '../autograd/engine';

/** sum(x_i^2) as a scalar tensor of shape []; d/dx = 2x. */
export function sumSquares(x: Tensor): Tensor {
  const y = output([]);
  y.data[0] = native.sumSquares(x.data);
  if (!needsGrad(x)) return y;
  return record(y, [x], () => native.axpy(2 * y.grad![0]!, x.data, gradOf(x)));
}

/** sum(|x_i|) as a scalar tensor of shape []; d/dx = sign(x), taken as 0 at x = 0 like TF/PyTorch. */
export function sumAbs(x: Tensor): Tensor {
  const y = output([]);
  y.data[0] = native.sumAbs(x.data);
  if (!needsGrad(x)) return y;
  return record(y, [x], () => native.addSign(y.grad![0]!, x.data, gradOf(x)));
}
