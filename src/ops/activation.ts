import { Tensor } from '../tensor';
import { native, ActId } from '../backend/native';
import { output, needsGrad, record, gradOf, gradTarget } from '../autograd/engine';
import { ValueError, describe } from '../errors';

/** Check an ActId argument of an op (a plain number from JavaScript could be anything). */
export function checkActId(where: string, act: unknown): asserts act is ActId {
  if (typeof act !== 'number' || ActId[act] === undefined) {
    throw new ValueError(
      `${where}: act must be an ActId (e.g. ActId.Relu, or activations.getActivation('relu').id), received ${describe(act)}`,
    );
  }
}

/** y = f(x) element-wise, f one of the native activations (`ActId`; `alpha` is its slope or scale where it has one). */
export function activation(x: Tensor, act: ActId, alpha = 0): Tensor {
  checkActId('ops.activation', act);
  if (act === ActId.Linear) return x;
  const y = output(x.shape);
  native.activationForward(act, x.data, y.data, alpha);
  if (!needsGrad(x)) return y;
  return record(y, [x], () => {
    // dx += f'(x) * dy. A first contribution is written directly; a later one goes through a
    // scratch then adds, since x.grad already holds a sum.
    const [dx, accumulate] = gradTarget(x);
    const out = accumulate ? scratchLike(dx) : dx;
    native.activationBackward(act, x.data, y.data, y.grad!, out, alpha);
    if (accumulate) native.axpy(1, out, dx);
  });
}

function scratchLike(buf: Float32Array): Float32Array {
  return output([buf.length]).data;
}

/**
 * Softmax over the last axis. The output remembers its logits so that a cross-entropy loss can be
 * computed from them directly (stable, and the fused gradient softmax - onehot skips this backward).
 */
export function softmax(x: Tensor): Tensor {
  const cols = x.shape[x.rank - 1] ?? 1;
  const rows = cols === 0 ? 0 : x.size / cols;
  const y = output(x.shape);
  native.softmax(x.data, y.data, rows, cols);
  y.op = 'softmax';
  y.logits = x;
  if (!needsGrad(x)) return y;
  return record(y, [x], () => {
    const tmp = scratchLike(x.data);
    native.softmaxBackward(y.data, y.grad!, tmp, rows, cols);
    native.axpy(1, tmp, gradOf(x));
  });
}

/** Sigmoid that remembers its logits, for binary cross-entropy's fused path. */
export function sigmoid(x: Tensor): Tensor {
  const y = activation(x, ActId.Sigmoid);
  y.op = 'sigmoid';
  y.logits = x;
  return y;
}
