import { Tensor } from '../tensor';
import { ShapeError, ValueError, describe } from '../errors';
import { native } from '../backend/native';
import { output, needsGrad, record, gradOf } from '../autograd/engine';

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size || a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${op}: shapes differ: [${a.shape}] and [${b.shape}]`);
  }
}

/** a + b, same shapes. */
export function add(a: Tensor, b: Tensor): Tensor {
  sameShape('add', a, b);
  const y = output(a.shape);
  y.data.set(a.data);
  native.axpy(1, b.data, y.data);
  if (!needsGrad(a, b)) return y;
  return record(y, [a, b], () => {
    if (a.requiresGrad) native.axpy(1, y.grad!, gradOf(a));
    if (b.requiresGrad) native.axpy(1, y.grad!, gradOf(b));
  });
}

/** a * s for a scalar number s. */
export function mulScalar(a: Tensor, s: number): Tensor {
  if (typeof s !== 'number' || !Number.isFinite(s)) {
    throw new ValueError(`mulScalar: the scalar must be a finite number, received ${describe(s)}`, 'ERR_NON_FINITE');
  }
  const y = output(a.shape);
  y.data.set(a.data);
  native.scale(s, y.data);
  if (!needsGrad(a)) return y;
  return record(y, [a], () => native.axpy(s, y.grad!, gradOf(a)));
}

/** a * b element-wise, same shapes. */
export function mul(a: Tensor, b: Tensor): Tensor {
  sameShape('mul', a, b);
  const y = output(a.shape);
  const ad = a.data, bd = b.data, yd = y.data;
  for (let i = 0; i < yd.length; i++) yd[i] = ad[i]! * bd[i]!;
  if (!needsGrad(a, b)) return y;
  return record(y, [a, b], () => {
    const g = y.grad!;
    if (a.requiresGrad) {
      const ga = gradOf(a);
      for (let i = 0; i < g.length; i++) ga[i] += g[i]! * bd[i]!;
    }
    if (b.requiresGrad) {
      const gb = gradOf(b);
      for (let i = 0; i < g.length; i++) gb[i] += g[i]! * ad[i]!;
    }
  });
}

/** Sum of all elements, as a scalar tensor of shape []. */
export function sum(a: Tensor): Tensor {
  const y = output([]);
  y.data[0] = native.sum(a.data);
  if (!needsGrad(a)) return y;
  return record(y, [a], () => {
    const ga = gradOf(a);
    const g = y.grad![0]!;
    for (let i = 0; i < ga.length; i++) ga[i] += g;
  });
}

/** Mean of all elements, as a scalar tensor of shape []. */
export function mean(a: Tensor): Tensor {
  return mulScalar(sum(a), a.size === 0 ? 0 : 1 / a.size);
}
