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
import { ShapeError, StateError, ValueError, describe } from '../errors';

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
  exitHooks.push([]);
  try {
    return fn();
  } finally {
    for (const hook of exitHooks.pop()!) hook();
    for (const t of tape.nodes) {
      t.backwardFn = null;
      t.parents = [];
      t.grad = null;
    }
    tape.nodes = saved;
    pool.exit(mark);
  }
}

/** Per open scope, what to run when it ends (see onScopeExit). */
const exitHooks: (() => void)[][] = [];

/**
 * Runs `hook` when the innermost open scope ends (at once is never needed: outside a scope nothing
 * is pooled, so nothing is registered). For state that holds tensors made in the scope, e.g. a
 * layer's activity penalties, which must not outlive their pooled buffers.
 */
export function onScopeExit(hook: () => void): void {
  const top = exitHooks[exitHooks.length - 1];
  if (top) top.push(hook);
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

/** Seeds `loss`'s gradient with 1 and runs the tape's backward closures from it to the start. */
function propagate(loss: Tensor): void {
  gradOf(loss)[0] = 1;
  const nodes = tape.nodes;
  for (let i = nodes.indexOf(loss); i >= 0; i--) {
    const node = nodes[i]!;
    if (node.grad !== null && node.backwardFn !== null) node.backwardFn();
  }
}

/**
 * Back-propagate from a scalar `loss` (seed gradient 1). Gradients of leaves (weights) accumulate
 * into their `grad`, so clear them between steps (`t.grad?.fill(0)`), or use
 * {@link valueAndGrads}, which hands back each step's gradients on their own.
 */
export function backward(loss: Tensor): void {
  if (loss.size !== 1) throw new StateError(`backward: expected a scalar loss, received shape [${loss.shape.join(', ')}]`);
  if (!loss.requiresGrad) throw new StateError('backward: the loss does not depend on any tensor that requires a gradient');
  propagate(loss);
  // Outside a scope nothing else would release the graph: drop it so a loop of backward() calls
  // does not keep every intermediate alive.
  if (!pool.active) {
    for (const t of tape.nodes) {
      t.backwardFn = null;
      t.parents = [];
    }
    tape.nodes = [];
  }
}

/** What {@link valueAndGrads} returns. */
export interface ValueAndGrads {
  /** The scalar that `fn` returned. */
  value: number;
  /**
   * The gradient of `value` with respect to each of `vars`, in their order: a new tensor of the
   * variable's shape, or null when `value` does not depend on that variable (TensorFlow's
   * `GradientTape.gradient` gives None there; `optimizer.applyGradients` skips such pairs).
   */
  grads: (Tensor | null)[];
}

/**
 * Runs `fn`, which must return a scalar tensor computed from `vars` with gradients recorded (e.g. a
 * loss from `model.call(x, true)`), and returns its value and its gradient with respect to each of
 * `vars`: the custom training step of Keras's `tf.GradientTape` and tfjs's `variableGrads`.
 *
 * ```js
 * const vars = model.trainableWeights;
 * const { value, grads } = valueAndGrads(() => {
 *   const loss = lossFn.compute(model.call(x, true), y);
 *   return model.losses.reduce((t, r) => ops.add(t, r), loss);
 * }, vars);
 * optimizer.applyGradients(grads.map((g, i) => [g, vars[i]]));
 * ```
 *
 * Everything `fn` computes lives in a buffer scope and is released when it returns (see `scope`):
 * keep numbers or copies, not its tensors. Gradients do not accumulate from one call to the next,
 * and the `grad` buffers of the variables (and of any other tensor the graph reaches) are left as
 * they were.
 */
export function valueAndGrads(fn: () => Tensor, vars: readonly Tensor[]): ValueAndGrads {
  if (typeof fn !== 'function') throw new ValueError(`valueAndGrads: fn must be a function returning a scalar tensor, received ${describe(fn)}`);
  if (!Array.isArray(vars)) throw new ValueError(`valueAndGrads: vars must be an array of tensors, received ${describe(vars)}`);
  if (vars.length === 0) {
    throw new ValueError(
      'valueAndGrads: vars is empty (a model without an input shape has no weights until its first call: give its first layer an inputShape or call build first)',
    );
  }
  const seen = new Set<Tensor>();
  vars.forEach((v, i) => {
    if (!(v instanceof Tensor)) throw new ValueError(`valueAndGrads: vars[${i}] is not a tensor, received ${describe(v)}`);
    if (!v.requiresGrad) {
      throw new ValueError(`valueAndGrads: vars[${i}]${nameOf(v)} does not record gradients (requiresGrad is false: a frozen or non-trainable weight?)`);
    }
    if (seen.has(v)) throw new ValueError(`valueAndGrads: vars[${i}]${nameOf(v)} appears twice`);
    seen.add(v);
  });
  if (!tape.gradEnabled) throw new StateError('valueAndGrads: called inside noGrad(), where no gradients are recorded');
  return scope(() => {
    const loss = fn();
    if (!(loss instanceof Tensor)) throw new ValueError(`valueAndGrads: fn must return a scalar tensor, received ${describe(loss)}`);
    if (loss.size !== 1) throw new ShapeError(`valueAndGrads: fn must return a scalar tensor, received shape [${loss.shape.join(', ')}]`);
    const value = loss.data[0]!;
    if (!loss.requiresGrad) {
      throw new StateError('valueAndGrads: the value fn returned does not depend on any tensor that records gradients (was it computed inside noGrad, or with training weights frozen?)');
    }
    // The leaves the graph reaches get pooled gradient buffers of their own for this pass; their
    // own grad buffers are put back afterwards, untouched.
    // (Tensors recorded before this call, outside its tape, count as leaves too.)
    const leaves = new Map<Tensor, Float32Array | null>();
    const inTape = new Set(tape.nodes);
    for (const node of tape.nodes)
      for (const p of node.parents) if (!inTape.has(p) && !leaves.has(p)) leaves.set(p, p.grad);
    for (const v of vars) if (!leaves.has(v)) leaves.set(v, v.grad);
    for (const leaf of leaves.keys()) leaf.grad = null;
    try {
      propagate(loss);
      const grads = vars.map((v) => (v.grad === null ? null : new Tensor(Float32Array.from(v.grad), v.shape)));
      if (grads.every((g) => g === null)) {
        throw new ValueError(
          'valueAndGrads: the value does not depend on any of vars (was it computed outside fn, or from other variables?)',
        );
      }
      return { value, grads };
    } finally {
      for (const [leaf, grad] of leaves) leaf.grad = grad;
    }
  });
}

function nameOf(t: Tensor): string {
  const name = (t as Tensor & { name?: unknown }).name;
  return typeof name === 'string' ? ` ("${name}")` : '';
}
