import { Tensor } from '../tensor';
import { ShapeError, ValueError, describe } from '../errors';
import { native } from '../backend/native';
import { output, needsGrad, record, gradOf } from '../autograd/engine';

/**
 * How `a op b` lines up: the same shape, or one operand broadcast over the other's leading axes
 * (its shape, leading 1s dropped, is the other's trailing axes: [n, k] with [k] or [1, k], as numpy
 * and Keras broadcast a per-feature vector). Returns the larger operand first and the period of
 * the smaller (its element count; the larger's element i pairs with the smaller's i % period).
 */
function lineUp(op: string, a: Tensor, b: Tensor): { big: Tensor; small: Tensor; swapped: boolean; period: number } {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) {
    throw new ValueError(
      `${op}: both operands must be tensors, received ${describe(a instanceof Tensor ? `a tensor of shape [${a.shape}]` : a)} and ` +
        `${describe(b instanceof Tensor ? `a tensor of shape [${b.shape}]` : b)} (for a number use mulScalar, or a one-element tensor)`,
    );
  }
  if (a.rank === b.rank && a.shape.every((d, i) => d === b.shape[i])) return { big: a, small: b, swapped: false, period: b.size };
  const trailing = (big: Tensor, small: Tensor): boolean => {
    const core = small.shape.slice(small.shape.findIndex((d) => d !== 1) === -1 ? small.rank : small.shape.findIndex((d) => d !== 1));
    return core.length <= big.rank && core.every((d, i) => d === big.shape[big.rank - core.length + i]);
  };
  if (a.size >= b.size && trailing(a, b) && b.size > 0) return { big: a, small: b, swapped: false, period: b.size };
  if (b.size > a.size && trailing(b, a) && a.size > 0) return { big: b, small: a, swapped: true, period: a.size };
  throw new ShapeError(`${op}: shapes [${a.shape}] and [${b.shape}] do not broadcast (equal shapes, or one the other's trailing axes, e.g. [n, k] and [k])`);
}

/** a + b: equal shapes, or one broadcast over the other's leading axes ([n, k] + [k]). */
export function add(a: Tensor, b: Tensor): Tensor {
  const { big, small, period } = lineUp('add', a, b);
  const y = output(big.shape);
  y.data.set(big.data);
  if (period === big.size) native.axpy(1, small.data, y.data);
  else for (let off = 0; off < y.data.length; off += period) native.axpy(1, small.data, y.data.subarray(off, off + period));
  if (!needsGrad(a, b)) return y;
  return record(y, [a, b], () => {
    const g = y.grad!;
    if (big.requiresGrad) native.axpy(1, g, gradOf(big));
    if (small.requiresGrad) {
      if (period === big.size) native.axpy(1, g, gradOf(small));
      else native.columnSum(g, big.size / period, period, gradOf(small), true);
    }
  });
}

/** a − b: equal shapes, or one broadcast over the other's leading axes ([n, k] − [k]). Keras: `ops.subtract`. */
export function sub(a: Tensor, b: Tensor): Tensor {
  const { big, small, swapped, period } = lineUp('sub', a, b);
  const y = output(big.shape);
  const bd = big.data, sd = small.data, yd = y.data;
  // sign of big's term: +1 when big is a (big − small), −1 when big is b (small − big).
  const s = swapped ? -1 : 1;
  for (let i = 0; i < yd.length; i++) yd[i] = s * (bd[i]! - sd[i % period]!);
  if (!needsGrad(a, b)) return y;
  return record(y, [a, b], () => {
    const g = y.grad!;
    if (big.requiresGrad) native.axpy(s, g, gradOf(big));
    if (small.requiresGrad) {
      if (period === big.size) native.axpy(-s, g, gradOf(small));
      else {
        const gs = gradOf(small);
        for (let i = 0; i < g.length; i++) gs[i % period] -= s * g[i]!;
      }
    }
  });
}

/** |a| element-wise; its gradient is sign(a), 0 at 0 (as TensorFlow and PyTorch). Keras: `ops.abs`. */
export function abs(a: Tensor): Tensor {
  const y = output(a.shape);
  const ad = a.data, yd = y.data;
  for (let i = 0; i < yd.length; i++) yd[i] = Math.abs(ad[i]!);
  if (!needsGrad(a)) return y;
  return record(y, [a], () => {
    const g = y.grad!, ga = gradOf(a);
    for (let i = 0; i < g.length; i++) ga[i] += ad[i]! > 0 ? g[i]! : ad[i]! < 0 ? -g[i]! : 0;
  });
}

/** a² element-wise. Keras: `ops.square`. */
export function square(a: Tensor): Tensor {
  return mul(a, a);
}

/**
 * Element-wise minimum of a and b (a tensor broadcast as in `add`, or a number); NaN where either
 * is NaN. The gradient goes to the operand chosen, to a on ties (TensorFlow's rule). Keras: `ops.minimum`.
 */
export function minimum(a: Tensor, b: Tensor | number): Tensor {
  // NaN on either side gives NaN (as numpy and TensorFlow): x !== x keeps a NaN a.
  return pick('minimum', a, b, (x, z) => x <= z || x !== x);
}

/** Element-wise maximum of a and b, as {@link minimum} (the gradient to a on ties). Keras: `ops.maximum`. */
export function maximum(a: Tensor, b: Tensor | number): Tensor {
  return pick('maximum', a, b, (x, z) => x >= z || x !== x);
}

function pick(op: string, a: Tensor, b: Tensor | number, keepA: (x: number, z: number) => boolean): Tensor {
  if (typeof b === 'number') {
    if (Number.isNaN(b)) throw new ValueError(`${op}: the scalar must be a number, received NaN`, 'ERR_NON_FINITE');
    b = new Tensor(new Float32Array([b]), [1]);
  }
  if (!(b instanceof Tensor)) throw new ValueError(`${op}: b must be a tensor or a number, received ${describe(b)}`);
  const { big, small, swapped, period } = lineUp(op, a, b);
  const y = output(big.shape);
  const bd = big.data, sd = small.data, yd = y.data;
  // fromA[i]: whether element i came from a.
  const fromA = new Uint8Array(yd.length);
  for (let i = 0; i < yd.length; i++) {
    const x = swapped ? sd[i % period]! : bd[i]!;
    const z = swapped ? bd[i]! : sd[i % period]!;
    const takeA = keepA(x, z);
    fromA[i] = takeA ? 1 : 0;
    yd[i] = takeA ? x : z;
  }
  if (!needsGrad(a, b)) return y;
  return record(y, [a, b], () => {
    const g = y.grad!;
    const bigIsA = !swapped;
    if (big.requiresGrad) {
      const gb = gradOf(big);
      for (let i = 0; i < g.length; i++) if ((fromA[i] === 1) === bigIsA) gb[i] += g[i]!;
    }
    if (small.requiresGrad) {
      const gs = gradOf(small);
      for (let i = 0; i < g.length; i++) if ((fromA[i] === 1) !== bigIsA) gs[i % period] += g[i]!;
    }
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

/** a * b element-wise: equal shapes, or one broadcast over the other's leading axes ([n, k] * [k]). */
export function mul(a: Tensor, b: Tensor): Tensor {
  const { big, small, period } = lineUp('mul', a, b);
  const y = output(big.shape);
  const bd = big.data, sd = small.data, yd = y.data;
  for (let i = 0; i < yd.length; i++) yd[i] = bd[i]! * sd[i % period]!;
  if (!needsGrad(a, b)) return y;
  return record(y, [a, b], () => {
    const g = y.grad!;
    if (big.requiresGrad) {
      const gb = gradOf(big);
      for (let i = 0; i < g.length; i++) gb[i] += g[i]! * sd[i % period]!;
    }
    if (small.requiresGrad) {
      const gs = gradOf(small);
      for (let i = 0; i < g.length; i++) gs[i % period] += g[i]! * bd[i]!;
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
