import { Tensor } from '../tensor';
import { ShapeError, ValueError, describe } from '../errors';
import { checkActId } from './activation';
import { native, ActId } from '../backend/native';
import { output, needsGrad, record, gradOf, gradTarget, fusedSgdRate, pool } from '../autograd/engine';

function rows2d(t: Tensor): [number, number] {
  const cols = t.shape[t.rank - 1] ?? 1;
  return [cols === 0 ? 0 : t.size / cols, cols];
}

/**
 * op(a) @ op(b) for 2-D tensors, where op transposes when asked (never materialised: the GEMM
 * reads the transposed layout directly).
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  if (typeof transA !== 'boolean' || typeof transB !== 'boolean') {
    throw new ValueError(`matmul(a, b, transA, transB): transA and transB must be booleans, received ${describe(transA)} and ${describe(transB)}`);
  }
  if (a.rank !== 2 || b.rank !== 2) {
    throw new ShapeError(`matmul: expected 2-D tensors, received shapes [${a.shape}] and [${b.shape}]`);
  }
  const [ar, ac] = a.shape as [number, number];
  const [br, bc] = b.shape as [number, number];
  const m = transA ? ac : ar, k = transA ? ar : ac;
  const kb = transB ? bc : br, n = transB ? br : bc;
  if (k !== kb) {
    throw new ShapeError(
      `matmul: inner dimensions differ: op(a) is [${m}, ${k}], op(b) is [${kb}, ${n}] (a [${a.shape}], b [${b.shape}])`,
    );
  }
  const out = output([m, n]);
  if (m === 0 || n === 0 || k === 0) {
    // An empty product (the kernel's leading dimensions must be at least 1): zeros, no gradient.
    out.data.fill(0);
    return out;
  }
  native.gemm(transA, transB, m, n, k, 1, a.data, ac, b.data, bc, 0, out.data, n, null);
  if (!needsGrad(a, b)) return out;
  return record(out, [a, b], () => {
    const g = out.grad!;
    // C = op(A) op(B):  dA += g op(B)^T (then transposed back if A was), dB likewise.
    if (a.requiresGrad) {
      if (!transA) native.gemm(false, !transB, m, k, n, 1, g, n, b.data, bc, 1, gradOf(a), ac, null);
      else native.gemm(transB, true, k, m, n, 1, b.data, bc, g, n, 1, gradOf(a), ac, null);
    }
    if (b.requiresGrad) {
      if (!transB) native.gemm(!transA, false, k, n, m, 1, a.data, ac, g, n, 1, gradOf(b), bc, null);
      else native.gemm(true, transA, n, k, m, 1, g, n, a.data, ac, 1, gradOf(b), bc, null);
    }
  });
}

/**
 * The Dense layer's whole forward pass: y = act(x W + b) over the last axis of x, in one GEMM
 * whose epilogue adds the bias and, block by block of z while it is still in cache, writes
 * y = act(z) (z is kept for the backward pass). The backward pass turns dy into dz = dy * act'(z)
 * once and feeds the three gradients from it.
 */
export function dense(x: Tensor, kernel: Tensor, bias: Tensor | null, act: ActId, alpha: number): Tensor {
  checkActId('ops.dense', act);
  const [m, k] = rows2d(x);
  const n = kernel.shape[1]!;
  if (kernel.shape[0] !== k) {
    throw new ShapeError(`dense: input last dimension ${k} does not match kernel shape [${kernel.shape}]`);
  }
  const outShape = [...x.shape.slice(0, -1), n];
  const z = output(outShape);
  let y = z;
  if (act === ActId.Linear) {
    native.gemm(false, false, m, n, k, 1, x.data, k, kernel.data, n, 0, z.data, n, bias ? bias.data : null);
  } else {
    y = output(outShape);
    native.gemm(false, false, m, n, k, 1, x.data, k, kernel.data, n, 0, z.data, n, bias ? bias.data : null, act, alpha, y.data);
  }
  if (!needsGrad(x, kernel, bias)) return y;
  const parents = bias ? [x, kernel, bias] : [x, kernel];
  return record(y, parents, () => {
    let dz = y.grad!;
    const trainBias = bias !== null && bias.requiresGrad;
    // The bias takes lr-scaled sums itself under a fused SGD step, else its gradient.
    const biasLr = trainBias ? fusedSgdRate(bias) : null;
    let biasDone = false;
    if (act !== ActId.Linear) {
      // dz = dy * act'(z) into a scratch; with a trainable bias, its column sums in the same pass.
      const scratch = pool.acquire(z.size);
      if (trainBias) {
        const [db, scale] = biasLr === null ? [gradOf(bias), 1] : [bias.data, -biasLr];
        native.activationBackwardBias(act, z.data, y.data, dz, scratch, alpha, m, n, db, scale);
        biasDone = true;
      } else {
        native.activationBackward(act, z.data, y.data, dz, scratch, alpha);
      }
      dz = scratch;
    }
    // dx first: it reads the kernel, which a fused SGD step below overwrites.
    if (x.requiresGrad) {
      const [dx, accumulate] = gradTarget(x);
      native.gemm(false, true, m, k, n, 1, dz, n, kernel.data, n, accumulate ? 1 : 0, dx, k, null);
    }
    if (trainBias && !biasDone) {
      if (biasLr === null) native.columnSum(dz, m, n, gradOf(bias), true);
      else {
        const db = pool.acquire(n);
        native.columnSum(dz, m, n, db, false);
        native.axpy(-biasLr, db, bias.data);
      }
    }
    if (kernel.requiresGrad) {
      // Fused SGD: kernel += (-lr) x^T dz in the GEMM's own accumulate, no gradient buffer.
      const lr = fusedSgdRate(kernel);
      const [alpha, out] = lr === null ? [1, gradOf(kernel)] : [-lr, kernel.data];
      native.gemm(true, false, k, n, m, alpha, x.data, k, dz, n, 1, out, n, null);
    }
  });
}
