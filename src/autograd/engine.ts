/**
 * Reverse-mode autograd on a tape, and the buffer pool that keeps training steps allocation-free.
 *
 * Every op computes its output and, when gradients are on and an input needs one, records a
 * backward closure right beside it (see src/ops). The tape is the list of such outputs in the order
 * they were made, so walking it backwards is a valid topological order.
 *
 * Buffers: inside `scope(fn)`, op outputs and their gradients come from a pool keyed by length and
 * go back to it when the scope ends. A training step therefore reuses the same Float32Arrays every
 * batch and memory stays flat over an epoch. Tensors made in a scope must not be kept after it ends:
 * copy what you need out (predict does).
 */
import { Tensor, Shape, sizeOf } from '../tensor';
import { StateError } from '../errors';

class BufferPool {
  private free = new Map<number, Float32Array[]>();
  private lent: Float32Array[] = [];
  private depth = 0;

  get active(): boolean {
    return this.depth > 0;
  }

  /** A buffer of exactly n floats; contents unspecified unless `zero`. */
  acquire(n: number, zero = false): Float32Array {
    if (this.depth === 0) return new Float32Array(n);
    const stack = this.free.get(n);
    const buf = stack && stack.length > 0 ? stack.pop()! : new Float32Array(n);
    if (zero && stack !== undefined) buf.fill(0);
    this.lent.push(buf);
    return buf;
  }

  enter(): number {
    this.depth++;
    return this.lent.length;
  }

  exit(mark: number): void {
    this.depth--;
    for (let i = this.lent.length - 1; i >= mark; i--) {
      const buf = this.lent[i]!;
      let stack = this.free.get(buf.length);
      if (!stack) this.free.set(buf.length, (stack = []));
      stack.push(buf);
    }
    this.lent.length = mark;
  }

  /** Drop every pooled buffer (e.g. after training, to give memory back). */
  clear(): void {
    this.free.clear();
  }

  /** Floats held in free lists (for tests and diagnostics). */
  pooledFloats(): number {
    let n = 0;
    for (const [len, stack] of this.free) n += len * stack.length;
    return n;
  }
}

export const pool = new BufferPool();

class Tape {
  gradEnabled = true;
  nodes: Tensor[] = [];
}

const tape = new Tape();

/** Whether ops record backward closures right now. */
export function isGradEnabled(): boolean {
  return tape.gradEnabled;
}

/** Run fn without recording gradients (inference). */
export function noGrad<T>(fn: () => T): T {
  const prev = tape.gradEnabled;
  tape.gradEnabled = false;
  try {
    return fn();
  } finally {
    tape.gradEnabled = prev;
  }
}

/**
 * Run fn with pooled buffers and a fresh tape; everything allocated inside returns to the pool when
 * fn returns. Use only for work whose results are consumed inside fn.
 */
export function scope<T>(fn: () => T): T {
  const mark = pool.enter();
  const saved = tape.nodes;
  tape.nodes = [];
  try {
    return fn();
  } finally {
    for (const t of tape.nodes) {
      t.backwardFn = null;
      t.parents = [];
      t.grad = null;
    }
    tape.nodes = saved;
    pool.exit(mark);
  }
}

/** A new tensor whose storage comes from the pool when a scope is active. */
export function output(shape: Shape): Tensor {
  return new Tensor(pool.acquire(sizeOf(shape)), shape);
}

/** True when an op on these inputs must record a backward closure. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!tape.gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/** Mark `out` as computed from `parents`, with `backward` pushing out.grad into their grads. */
export function record(out: Tensor, parents: Tensor[], backward: () => void): Tensor {
  out.requiresGrad = true;
  out.parents = parents;
  out.backwardFn = backward;
  tape.nodes.push(out);
  return out;
}

/**
 * Plain SGD fused into the backward pass (set by Sequential's training step, see
 * `withFusedSgd`): the op that computes the gradient of a weight in `vars` subtracts lr * gradient
 * from the weight right there instead of accumulating the gradient for the optimizer. This saves
 * writing, zeroing and re-reading a gradient buffer as large as the model every step.
 */
let fusedSgd: { lr: number; vars: ReadonlySet<Tensor> } | null = null;

/**
 * Run fn (a backward pass) with plain SGD fused for the weights in `vars`: each must be used by
 * exactly one op of the graph, one that supports fusing (the Dense op), after which it is updated
 * in place and its `grad` buffer is left untouched.
 */
export function withFusedSgd<T>(lr: number, vars: ReadonlySet<Tensor>, fn: () => T): T {
  const prev = fusedSgd;
  fusedSgd = { lr, vars };
  try {
    return fn();
  } finally {
    fusedSgd = prev;
  }
}

/** The learning rate to apply to `t` in place, when a fused SGD step covers it; else null. */
export function fusedSgdRate(t: Tensor): number | null {
  return fusedSgd !== null && fusedSgd.vars.has(t) ? fusedSgd.lr : null;
}

/**
 * For an op that writes its whole gradient contribution to t in one kernel call: t's gradient
 * buffer and whether the kernel must add to it (true: t already has a gradient) or may overwrite
 * it (false: a fresh buffer, not zeroed, so no pass is spent clearing it).
 */
export function gradTarget(t: Tensor): [Float32Array, boolean] {
  if (t.grad !== null) return [t.grad, true];
  t.grad = pool.acquire(t.size);
  return [t.grad, false];
}

/** The gradient buffer of t, created zeroed on first use. */
export function gradOf(t: Tensor): Float32Array {
  if (t.grad === null) t.grad = pool.acquire(t.size, true);
  return t.grad;
}

/**
 * Back-propagate from a scalar `loss` (seed gradient 1). Gradients of leaves (weights) accumulate
 * into their `grad`; call `zeroGrad` on them between steps.
 */
export function backward(loss: Tensor): void {
  if (loss.size !== 1) throw new StateError(`backward: expected a scalar loss, received shape [${loss.shape.join(', ')}]`);
  if (!loss.requiresGrad) throw new StateError('backward: the loss does not depend on any tensor that requires a gradient');
  gradOf(loss)[0] = 1;
  const nodes = tape.nodes;
  const end = nodes.indexOf(loss);
  for (let i = end; i >= 0; i--) {
    const node = nodes[i]!;
    if (node.grad !== null && node.backwardFn !== null) node.backwardFn();
  }
  // Outside a scope nothing else would release the graph: drop it so a loop of backward() calls
  // does not keep every intermediate alive.
  if (!pool.active) {
    for (const t of nodes) {
      t.backwardFn = null;
      t.parents = [];
    }
    tape.nodes = [];
  }
}
