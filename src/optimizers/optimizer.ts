/**
 * The optimizer base owns what every optimizer shares (Keras 3's BaseOptimizer): the step counter
 * `iterations`, the learning rate (a number or a LearningRateSchedule evaluated at `iterations`),
 * gradient clipping (`clipvalue`, per-weight `clipnorm`, `globalClipnorm`: at most one), decoupled
 * weight decay (`w -= w * weightDecay * lr` before the update, on every optimizer) and the slot
 * buffers. A concrete optimizer declares its slots and one update step, which runs as a single
 * native call over the model's whole (contiguous) parameter buffer.
 *
 * Slots are keyed by weight: the model passes `segments` ({ name, offset, size } per weight) with
 * each step, and when they change (weights frozen or unfrozen, layers added), each weight whose name
 * and size are unchanged keeps its slot state, a weight that left the layout keeps its state aside
 * until it comes back (see `parked`), and new weights start from the slot's initial value, instead
 * of state silently sliding onto the wrong weights.
 */
import { ValueError, StateError, checkOptions, describe } from '../errors';
import { native, NativeUpdate, UpdateKernel, UPDATE_SCALARS } from '../backend/native';
import { LearningRateSchedule } from './schedules/schedule';
import { Tensor } from '../tensor';
import type { Constraint } from '../constraints/constraint';

/** One weight's place in the flat parameter buffer. */
export interface Segment {
  /** Weight name, e.g. `'dense/kernel'` (keys the optimizer state). */
  name: string;
  /** Index of the weight's first element in the flat buffer. */
  offset: number;
  /** Number of elements of the weight. */
  size: number;
}

/** Options every optimizer accepts (Keras's base optimizer keyword arguments: `learning_rate`, `weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`, `name`). */
export interface OptimizerArgs {
  /** A non-negative number or a schedule of the step counter. Default 0.01 for SGD, 0.001 for the others. Keras: `learning_rate`. */
  learningRate?: number | LearningRateSchedule;
  /** Decoupled weight decay: `w -= w * weightDecay * lr` before each update (default none; AdamW 0.004). Keras: `weight_decay`. */
  weightDecay?: number | null;
  /** Clip each weight's gradient to this L2 norm. Default none. Keras: `clipnorm`. */
  clipnorm?: number | null;
  /** Clip every gradient element to [-clipvalue, clipvalue]. Default none. Keras: `clipvalue`. */
  clipvalue?: number | null;
  /** Clip all gradients together to this global L2 norm. Default none. Keras: `global_clipnorm`. */
  globalClipnorm?: number | null;
  /** Name (Keras's default is the lower-case class name, 'SGD' for SGD). Keras: `name`. */
  name?: string;
}

/** A named state tensor of an optimizer ('iter', 'dense/kernel/momentum', ...). */
export interface NamedTensor {
  /** State name, e.g. `'iter'` or `'dense/kernel/momentum'`. */
  name: string;
  /** The state's values. */
  tensor: Tensor;
}

/** A slot a concrete optimizer keeps per parameter, with its initial value. */
export interface SlotSpec {
  /** Slot name, appended to the weight name (e.g. `'momentum'`, `'m'`, `'v'`). */
  name: string;
  /** Initial value of every element of the slot. */
  init: number;
}

const BASE_KEYS = ['learningRate', 'weightDecay', 'clipnorm', 'clipvalue', 'globalClipnorm', 'name'] as const;

/** Base class of the optimizers: owns the step counter, the learning rate or its schedule, clipping and weight decay; a subclass declares its slots and one fused update step. Keras: `keras.optimizers.Optimizer`. */
export abstract class Optimizer {
  /** Name (Keras's default is the lower-case class name, 'SGD' for SGD). Keras: `name`. */
  readonly name: string;
  /** Number of update steps applied so far (Keras's `iterations`). */
  iterations = 0;
  /** Decoupled weight decay: `w -= w * weightDecay * lr` before each update (default none; AdamW 0.004). Keras: `weight_decay`. */
  readonly weightDecay: number | null;
  /** Clip each weight's gradient to this L2 norm. Default none. Keras: `clipnorm`. */
  readonly clipnorm: number | null;
  /** Clip every gradient element to [-clipvalue, clipvalue]. Default none. Keras: `clipvalue`. */
  readonly clipvalue: number | null;
  /** Clip all gradients together to this global L2 norm. Default none. Keras: `global_clipnorm`. */
  readonly globalClipnorm: number | null;

  /** One step's scalars (stepScalars), for a subclass's update. */
  protected readonly scratch: Float64Array = new Float64Array(UPDATE_SCALARS);
  private lrValue: number;
  private lrSchedule: LearningRateSchedule | null;
  private decayExcludes: readonly RegExp[] = [];
  private slotBuffers = new Map<string, Float32Array>();
  private layout: Segment[] | null = null;
  private layoutLength = -1;

  /**
   * `known` lists the subclass's own option names: any other key is rejected, as Keras rejects
   * unrecognised arguments (a misspelt `beta_1` must not silently fall back to the default).
   */
  constructor(args: OptimizerArgs, defaults: { learningRate: number; name: string }, known: readonly string[] = []) {
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`${this.className}: expected an options object, received ${describe(args)}`);
    }
    checkOptions(this.className, args, [...new Set<string>([...BASE_KEYS, ...known])]);
    const lr = args.learningRate ?? defaults.learningRate;
    if (lr instanceof LearningRateSchedule) {
      this.lrSchedule = lr;
      this.lrValue = Number.NaN;
    } else {
      this.lrSchedule = null;
      this.lrValue = checkLearningRate(this.className, lr);
    }
    if (args.name !== undefined && (typeof args.name !== 'string' || args.name === '')) {
      throw new ValueError(`${this.className}: name must be a non-empty string, received ${describe(args.name)}`);
    }
    this.name = args.name ?? defaults.name;
    this.weightDecay = optionalNumber(this.className, 'weightDecay', args.weightDecay, true);
    this.clipnorm = optionalNumber(this.className, 'clipnorm', args.clipnorm, false);
    this.clipvalue = optionalNumber(this.className, 'clipvalue', args.clipvalue, false);
    this.globalClipnorm = optionalNumber(this.className, 'globalClipnorm', args.globalClipnorm, false);
    const clips = [this.clipnorm, this.clipvalue, this.globalClipnorm].filter((c) => c !== null).length;
    if (clips > 1) {
      throw new ValueError(
        `${this.className}: only one of clipnorm, clipvalue and globalClipnorm can be set, received ` +
          `clipnorm=${describe(this.clipnorm)}, clipvalue=${describe(this.clipvalue)}, ` +
          `globalClipnorm=${describe(this.globalClipnorm)}`,
      );
    }
  }

  /** Keras class name ('SGD', 'Adam', ...); subclasses override it. */
  get className(): string {
    return this.constructor.name;
  }

  /**
   * The learning rate the next step will use. Setting a number replaces a constant learning rate
   * (callbacks such as ReduceLROnPlateau do this); it is an error when a schedule drives the rate.
   * Setting a schedule makes it drive the rate from the current step on, as in Keras.
   */
  get learningRate(): number {
    return this.currentLearningRate();
  }

  /** Replaces the learning rate: a schedule always, a number only when no schedule drives it (else StateError). Keras: `optimizer.learning_rate = ...`. */
  set learningRate(lr: number | LearningRateSchedule) {
    if (lr instanceof LearningRateSchedule) {
      this.lrSchedule = lr;
      this.lrValue = Number.NaN;
      return;
    }
    if (this.lrSchedule !== null) {
      throw new StateError(
        `${this.className}: the learning rate is set by a ${this.lrSchedule.className} schedule and cannot be ` +
          `assigned (received ${describe(lr)}); create the optimizer with a number learningRate to change it`,
      );
    }
    this.lrValue = checkLearningRate(this.className, lr);
  }

  /** The schedule driving the learning rate, or null for a constant one. */
  get learningRateSchedule(): LearningRateSchedule | null {
    return this.lrSchedule;
  }

  /** The learning rate the next step will use (a schedule's value at the current step). */
  currentLearningRate(): number {
    if (this.lrSchedule === null) return this.lrValue;
    const lr = this.lrSchedule.call(this.iterations);
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
      throw new ValueError(
        `${this.className}: ${this.lrSchedule.className} returned learning rate ${describe(lr)} at step ` +
          `${this.iterations}; expected a non-negative finite number`,
      );
    }
    return lr;
  }

  /**
   * Exclude weights from weight decay: any weight whose own name (the part after the layer's, e.g.
   * 'bias' of 'dense_1/bias') matches one of `varNames`, regular expressions searched as Keras 3's
   * `exclude_from_weight_decay(var_names=...)` does (['bias', 'gamma', 'beta'], or ['^bias$']).
   * Like Keras, only before the first step.
   */
  excludeFromWeightDecay(args: { varNames: readonly string[] }): void {
    const names = args?.varNames;
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n === '')) {
      throw new ValueError(
        `${this.className}: excludeFromWeightDecay expects { varNames: non-empty strings[] }, received ${describe(names)}`,
      );
    }
    if (this.iterations > 0 || this.slotBuffers.size > 0) {
      throw new StateError(`${this.className}: excludeFromWeightDecay can only be set before the first step (Keras: before the optimizer is built)`);
    }
    const patterns = names.map((n) => {
      try {
        return new RegExp(n);
      } catch {
        throw new ValueError(`${this.className}: excludeFromWeightDecay: varNames entry ${describe(n)} is not a valid regular expression`);
      }
    });
    this.decayExcludes = patterns;
  }

  /**
   * Apply one step to the flat parameter buffer `params` using `grads` (same length; clipped in
   * place when clipping is set). `segments` tells where each weight lies; they must tile the buffer
   * in order (an empty list means one unnamed weight).
   */
  apply(params: Float32Array, grads: Float32Array, segments: readonly Segment[]): void {
    if (!(params instanceof Float32Array) || !(grads instanceof Float32Array)) {
      throw new ValueError(
        `${this.className}: apply() expects Float32Array params and grads, received ${describe(params)} and ${describe(grads)}`,
      );
    }
    if (params.length !== grads.length) {
      throw new ValueError(`${this.className}: ${params.length} parameters but ${grads.length} gradients`);
    }
    const lr = this.currentLearningRate();
    const segs = this.ensureSlots(params.length, segments);
    this.clipGradients(grads, segs);
    let decay = this.decayAt(lr);
    if (decay > 0) {
      if (this.decayExcludes.length > 0) {
        // Per weight, so the fused kernel below does no decay.
        for (const s of this.decaying(segs)) native.scale(1 - decay, params.subarray(s.offset, s.offset + s.size));
        decay = 0;
      }
    }
    this.update(params, grads, lr, decay);
    this.iterations++;
  }

  /**
   * One step over the variables of `gradsAndVars` (`[gradient, variable]` pairs), as Keras's
   * `optimizer.apply_gradients(zip(grads, vars))`: the learning rate at `iterations`, clipping,
   * weight decay, the update, then each variable's `constraint`; `iterations` counts one step per
   * call, whatever the number of variables. A pair whose gradient is null (a variable the loss does
   * not depend on, see {@link valueAndGrads}) is skipped with a warning, as Keras does. The
   * gradients themselves are not changed (clipping works on a copy).
   *
   * Slot state (momentum, Adam's moments) is kept per variable name, so a loop may pass the
   * trainable weights of a model step after step, and `fit` and this method may take turns on one
   * model and optimizer: both see the same state.
   */
  applyGradients(gradsAndVars: ReadonlyArray<readonly [Tensor | Float32Array | null, Tensor]>): void {
    const where = `${this.className}: applyGradients`;
    if (!Array.isArray(gradsAndVars)) {
      throw new ValueError(`${where} expects an array of [gradient, variable] pairs, received ${describe(gradsAndVars)}`);
    }
    const vars: Tensor[] = [];
    const grads: Float32Array[] = [];
    const names: string[] = [];
    const seen = new Set<Tensor>();
    gradsAndVars.forEach((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw new ValueError(`${where}: entry ${i} is not a [gradient, variable] pair, received ${describe(pair)}`);
      const [g, v] = pair as [unknown, unknown];
      if (!(v instanceof Tensor)) throw new ValueError(`${where}: entry ${i}: the variable is not a tensor, received ${describe(v)}`);
      const vname = (v as Tensor & { name?: unknown }).name;
      const name = typeof vname === 'string' ? vname : unnamedKey(v);
      if (!v.requiresGrad) {
        throw new ValueError(`${where}: entry ${i}: "${name}" is not trainable (requiresGrad is false: a frozen or non-trainable weight)`);
      }
      if (seen.has(v)) throw new ValueError(`${where}: entry ${i}: "${name}" appears twice`);
      seen.add(v);
      if (g === null || g === undefined) {
        if (!this.warnedNoGradient.has(name)) {
          this.warnedNoGradient.add(name);
          console.warn(`${where}: no gradient for "${name}" (the loss does not depend on it); it is left as it is`);
        }
        return;
      }
      const data = g instanceof Tensor ? g.data : g;
      if (!(data instanceof Float32Array)) throw new ValueError(`${where}: entry ${i}: the gradient of "${name}" is not a tensor or Float32Array, received ${describe(g)}`);
      if (g instanceof Tensor && (g.rank !== v.rank || g.shape.some((d, k) => d !== v.shape[k]))) {
        throw new ValueError(`${where}: entry ${i}: the gradient of "${name}" has shape [${g.shape.join(', ')}], the variable [${v.shape.join(', ')}]`);
      }
      if (data.length !== v.size) {
        throw new ValueError(`${where}: entry ${i}: the gradient of "${name}" has ${data.length} values, the variable ${v.size} (shape [${v.shape.join(', ')}])`);
      }
      const bad = native.firstNonFinite(data);
      if (bad >= 0) {
        throw new ValueError(`${where}: the gradient of "${name}" holds ${data[bad]} at index ${bad}; no variable was changed`, 'ERR_NON_FINITE');
      }
      vars.push(v);
      grads.push(data);
      names.push(name);
    });
    // Keras's apply_gradients: "No gradients provided for any variable."
    if (vars.length === 0) {
      throw new ValueError(
        gradsAndVars.length === 0
          ? `${where}: no [gradient, variable] pairs given`
          : `${where}: no gradients provided for any variable (every gradient is null: the loss depends on none of them)`,
      );
    }
    // The variables as one flat buffer: in place when they already are consecutive views of one
    // (a compiled model's trainable weights, in order), else a copy written back after the step.
    const total = vars.reduce((n, v) => n + v.size, 0);
    const first = vars[0]!.data;
    let at = first.byteOffset;
    const inPlace =
      first.buffer.byteLength === total * 4 &&
      first.byteOffset === 0 &&
      vars.every((v) => {
        const ok = v.data.buffer === first.buffer && v.data.byteOffset === at;
        at += v.size * 4;
        return ok;
      });
    const params = inPlace ? new Float32Array(first.buffer, 0, total) : new Float32Array(total);
    const flatGrads = new Float32Array(total);
    const segments: Segment[] = [];
    let offset = 0;
    vars.forEach((v, i) => {
      if (!inPlace) params.set(v.data, offset);
      flatGrads.set(grads[i]!, offset);
      segments.push({ name: names[i]!, offset, size: v.size });
      offset += v.size;
    });
    this.apply(params, flatGrads, segments);
    if (!inPlace) vars.forEach((v, i) => v.data.set(params.subarray(segments[i]!.offset, segments[i]!.offset + v.size)));
    for (const v of vars) (v as Tensor & { constraint?: Constraint | null }).constraint?.apply(v);
  }

  /** Names applyGradients has warned about (no gradient), so each warns once. */
  private readonly warnedNoGradient = new Set<string>();

  /**
   * @internal `count` steps from the current one in the form a training plan runs natively after
   * each batch's gradients (Sequential.fit, native/train_plan.h PlanUpdate): this optimizer's
   * update kernel, its slots (created here) and each step's scalars (written to `scalars`, computed
   * as `apply` computes them, learning-rate schedule included), with its gradient clipping and its
   * weight decay (per weight under excludeFromWeightDecay). Null when the optimizer has no native kernel.
   * Changes no other state: `finishPlannedSteps(done)` then counts the steps that ran.
   */
  planUpdate(params: Float32Array, grads: Float32Array, segments: readonly Segment[], count: number, scalars: Float64Array): NativeUpdate | null {
    if (params.length !== grads.length || params.length === 0 || scalars.length < count * UPDATE_SCALARS) return null;
    // The slots as apply() would have them (harmless when there is no kernel: apply makes the same).
    const segs = this.ensureSlots(params.length, segments);
    const kernel = this.nativeUpdate();
    if (kernel === null) return null;
    // Under excludeFromWeightDecay the decay is applied per weight, before a kernel that does none.
    const perWeight = this.decayExcludes.length > 0;
    const it0 = this.iterations;
    const state = this.saveStepState();
    try {
      for (let j = 0; j < count; j++) {
        this.iterations = it0 + j;
        const lr = this.currentLearningRate();
        const decay = this.decayAt(lr);
        this.stepScalars(lr, perWeight ? 0 : decay, scalars, j * UPDATE_SCALARS);
        scalars[j * UPDATE_SCALARS + 5] = perWeight ? decay : 0;
      }
    } finally {
      this.iterations = it0;
      this.restoreStepState(state);
    }
    // Clipping as clipGradients does it, in the same order of precedence.
    let clip = { clip: 0, clipValue: 0, segments: null as Float64Array | null };
    if (this.clipnorm !== null) clip = { clip: 2, clipValue: this.clipnorm, segments: ranges(segs) };
    else if (this.globalClipnorm !== null) clip = { clip: 3, clipValue: this.globalClipnorm, segments: null };
    else if (this.clipvalue !== null) clip = { clip: 1, clipValue: this.clipvalue, segments: null };
    return { ...kernel, params, grads, scalars, ...clip, decaySegments: perWeight ? ranges(this.decaying(segs)) : null };
  }

  /** @internal Counts `done` steps that a plan ran after planUpdate, advancing any per-step state as `apply` does. */
  finishPlannedSteps(done: number): void {
    for (let j = 0; j < done; j++) {
      const lr = this.currentLearningRate();
      this.stepScalars(lr, this.decayAt(lr), this.scratch, 0);
      this.iterations++;
    }
  }

  /** The weights that decay under excludeFromWeightDecay (those whose own name matches none of the patterns). */
  private decaying(segs: readonly Segment[]): Segment[] {
    return segs.filter((s) => {
      const own = s.name.slice(s.name.lastIndexOf('/') + 1);
      return !this.decayExcludes.some((x) => x.test(own));
    });
  }

  /** The decoupled weight decay of a step at learning rate `lr` (weightDecay * lr, or 0). */
  private decayAt(lr: number): number {
    return this.weightDecay !== null && this.weightDecay > 0 && lr > 0 ? this.weightDecay * lr : 0;
  }

  /**
   * The update kernel and its constants, with the slots as they are now (see planUpdate), or null
   * when the optimizer has none; params, grads and scalars are filled in by the caller.
   */
  protected nativeUpdate(): UpdateKernel | null {
    return null;
  }

  /**
   * Writes a step's scalars at out[at...] (see NativeUpdate.scalars): the values the subclass's
   * `update` passes to its kernel, from the step's learning rate and decay, at `iterations`.
   * It may advance per-step state (Nadam's momentum-cache product): planUpdate saves and restores
   * that around its look-ahead with saveStepState / restoreStepState.
   */
  protected stepScalars(lr: number, decay: number, out: Float64Array, at: number): void {
    out[at] = lr;
    out[at + 1] = decay;
  }

  /** State that stepScalars advances, to restore after a look-ahead (none by default). */
  protected saveStepState(): unknown {
    return null;
  }

  /** Puts back the state that `saveStepState` returned, after a look-ahead (nothing by default). */
  protected restoreStepState(_state: unknown): void {}

  /**
   * @internal The learning rate of the next step when this step is plain `w -= lr * g` with no
   * state, clipping or decay, so that the model may fuse it into the backward pass (see
   * `withFusedSgd` in autograd/engine); null otherwise. Only SGD without momentum qualifies.
   */
  fusedSgdRate(): number | null {
    return null;
  }

  /**
   * @internal Completes a step whose fused weights were already updated during the backward pass:
   * applies the update to the `rest` segments of the flat buffers and counts the step.
   */
  finishFusedStep(params: Float32Array, grads: Float32Array, rest: readonly Segment[]): void {
    const lr = this.fusedSgdRate();
    if (lr === null) throw new StateError(`${this.className}: finishFusedStep() called on a step that cannot be fused`);
    for (const s of rest) this.update(params.subarray(s.offset, s.offset + s.size), grads.subarray(s.offset, s.offset + s.size), lr, 0);
    this.iterations++;
  }

  /** The slots this optimizer keeps, given its current options. */
  protected abstract slotSpecs(): readonly SlotSpec[];

  /**
   * One update step over the whole buffer. `decay` (= weightDecay * lr, or 0) is to be applied
   * first, as `w -= w * decay`; `this.iterations` is the number of earlier steps.
   */
  protected abstract update(params: Float32Array, grads: Float32Array, lr: number, decay: number): void;

  /** A slot buffer (full length of the parameter buffer) declared by slotSpecs(). */
  protected slot(name: string): Float32Array {
    const s = this.slotBuffers.get(name);
    if (s === undefined) throw new StateError(`${this.className}: slot '${name}' used before apply() created it`);
    return s;
  }

  /** Slot names and their buffers (for inspection and tests). */
  get slots(): ReadonlyMap<string, Float32Array> {
    return this.slotBuffers;
  }

  /**
   * The optimizer's state as named tensors in a stable order (tfjs-layers' and Keras's layout):
   * 'iter' (the step counter, a scalar) first, then for each slot in declaration order one tensor
   * per weight, in the model's order, named '<weight>/<slot>' (e.g. 'dense/kernel/momentum'),
   * followed by the parked state of weights out of the layout (a frozen layer's), so that a loaded
   * model resumes it when the layer is unfrozen. Before the first step there are no slots, only
   * 'iter'. Values are copies.
   */
  getWeights(): NamedTensor[] {
    const out: NamedTensor[] = [{ name: 'iter', tensor: new Tensor(Float32Array.of(this.iterations), []) }];
    const layout = this.layout;
    if (layout === null) return out;
    const specs = this.slotSpecs();
    for (const spec of specs) {
      const buf = this.slotBuffers.get(spec.name);
      if (buf === undefined) continue;
      for (const s of layout) {
        out.push({ name: `${s.name}/${spec.name}`, tensor: new Tensor(buf.slice(s.offset, s.offset + s.size), [s.size]) });
      }
      // The parked state of weights out of the layout (a frozen layer's), after it, so that a saved
      // model resumes it too when the layer is unfrozen.
      for (const [name, slots] of this.parked) {
        const kept = slots.get(spec.name);
        if (kept && specs.every((sp) => slots.has(sp.name))) out.push({ name: `${name}/${spec.name}`, tensor: new Tensor(kept.slice(), [kept.length]) });
      }
    }
    return out;
  }

  /**
   * Restore state written by getWeights(). The slots are keyed by weight name, so the next step
   * carries each weight's state over to wherever that weight lies in the model's buffer (a weight
   * missing from `values` starts fresh). Throws, changing nothing, on a malformed list.
   */
  setWeights(values: readonly NamedTensor[]): void {
    const bad = (why: string): never => {
      throw new ValueError(`${this.className} "${this.name}": setWeights: ${why}`);
    };
    if (!Array.isArray(values) || values.length === 0) bad(`expected a list of { name, tensor } starting with 'iter', received ${describe(values)}`);
    const iter = values[0]!;
    const it = iter?.tensor?.data?.[0];
    if (iter?.name !== 'iter' || iter.tensor.size !== 1 || !Number.isInteger(it) || it! < 0) {
      bad(`the first entry must be 'iter', a non-negative integer scalar, received ${describe(iter?.name)} = ${describe(it)}`);
    }
    const specs = this.slotSpecs();
    const perSlot = new Map<string, NamedTensor[]>(specs.map((s) => [s.name, []]));
    for (const v of values.slice(1)) {
      const cut = typeof v?.name === 'string' ? v.name.lastIndexOf('/') : -1;
      const list = cut >= 0 ? perSlot.get(v.name.slice(cut + 1)) : undefined;
      if (list === undefined || !(v.tensor?.data instanceof Float32Array)) {
        bad(`${describe(v?.name)} is not '<weight>/<slot>' with a slot of ${specs.map((s) => `'${s.name}'`).join(', ') || 'none'}`);
      }
      list!.push(v);
    }
    const lists = [...perSlot.values()];
    const first = lists[0] ?? [];
    const weightOf = (v: NamedTensor) => v.name.slice(0, v.name.lastIndexOf('/'));
    for (const [slot, list] of perSlot) {
      const same = list.length === first.length && list.every((v, i) => weightOf(v) === weightOf(first[i]!) && v.tensor.size === first[i]!.tensor.size);
      if (!same) bad(`slot '${slot}' has ${list.length} weights but '${specs[0]!.name}' has ${first.length}, or their names or sizes differ`);
    }
    this.iterations = it!;
    this.parked = new Map();
    if (first.length === 0) {
      this.reset();
      return;
    }
    let offset = 0;
    const layout = first.map((v) => {
      const s = { name: weightOf(v), offset, size: v.tensor.size };
      offset += s.size;
      return s;
    });
    const buffers = new Map<string, Float32Array>();
    for (const [slot, list] of perSlot) {
      const buf = new Float32Array(offset);
      list.forEach((v, i) => buf.set(v.tensor.data, layout[i]!.offset));
      buffers.set(slot, buf);
    }
    this.slotBuffers = buffers;
    this.layout = layout;
    this.layoutLength = offset;
  }

  /** Forget slot state (the step counter and learning rate are kept). */
  reset(): void {
    this.slotBuffers = new Map();
    this.parked = new Map();
    this.layout = null;
    this.layoutLength = -1;
  }

  /**
   * Slot state of weights that left the layout (a frozen layer, a step of applyGradients over other
   * variables), by weight name then slot name: a weight that comes back with the same size resumes
   * it, as each parameter keeps its own state in PyTorch. Not saved with the model.
   */
  private parked = new Map<string, Map<string, Float32Array>>();

  /** Keras-style config with snake_case keys. */
  getConfig(): Record<string, unknown> {
    return {
      name: this.name,
      learning_rate: this.lrSchedule
        ? { class_name: this.lrSchedule.className, config: this.lrSchedule.getConfig() }
        : this.lrValue,
      weight_decay: this.weightDecay,
      clipnorm: this.clipnorm,
      global_clipnorm: this.globalClipnorm,
      clipvalue: this.clipvalue,
      // Not in Keras's config (Keras 3 loses it on save); kept so that a loaded model resumes exactly.
      ...(this.decayExcludes.length > 0 ? { exclude_from_weight_decay: this.decayExcludes.map((r) => r.source) } : {}),
    };
  }

  private clipGradients(grads: Float32Array, segs: readonly Segment[]): void {
    if (this.clipnorm !== null) {
      for (const s of segs) native.clipByNorm(grads.subarray(s.offset, s.offset + s.size), this.clipnorm);
    } else if (this.globalClipnorm !== null) {
      // Keras's clip_by_global_norm: scale = c * min(1 / norm, 1 / c); a NaN/Inf norm gives NaN.
      const norm = Math.sqrt(native.sumSquares(grads));
      if (!Number.isFinite(norm)) grads.fill(Number.NaN);
      else if (norm > this.globalClipnorm) native.scale(this.globalClipnorm / norm, grads);
    } else if (this.clipvalue !== null) {
      native.clipByValue(grads, this.clipvalue);
    }
  }

  /**
   * Makes sure every declared slot exists for this layout. On a new layout, a weight whose name and
   * size match the previous layout keeps its state; every other weight starts at the slot's init.
   */
  private ensureSlots(n: number, segments: readonly Segment[]): readonly Segment[] {
    const specs = this.slotSpecs();
    const sameLayout = this.layout !== null && this.layoutLength === n && sameSegments(this.layout, segments, n);
    const segs = sameLayout ? this.layout! : checkSegments(this.className, n, segments);
    if (sameLayout && specs.every((s) => this.slotBuffers.has(s.name))) return segs;

    const old = this.layout ?? [];
    const byName = new Map<string, Segment[]>();
    for (const s of old) {
      const list = byName.get(s.name);
      if (list) list.push(s);
      else byName.set(s.name, [s]);
    }
    // Previous segment for each new one (same name, in order of appearance, and same size), or null.
    const used = new Map<string, number>();
    const sources = segs.map((s) => {
      const k = used.get(s.name) ?? 0;
      used.set(s.name, k + 1);
      const prev = byName.get(s.name)?.[k];
      return prev !== undefined && prev.size === s.size ? prev : null;
    });

    // Weights of the old layout that have no place in the new one (gone, or resized) park their
    // state; weights of the new one with no source take parked state of their name and size.
    if (!sameLayout) {
      const carried = new Set(sources.filter((src): src is Segment => src !== null));
      for (const s of old) {
        if (carried.has(s)) continue;
        const slots = new Map<string, Float32Array>();
        for (const spec of specs) {
          const before = this.slotBuffers.get(spec.name);
          if (before && before.length >= s.offset + s.size) slots.set(spec.name, before.slice(s.offset, s.offset + s.size));
        }
        if (slots.size > 0) this.parked.set(s.name, slots);
      }
    }
    const next = new Map<string, Float32Array>();
    for (const spec of specs) {
      const before = this.slotBuffers.get(spec.name);
      if (sameLayout && before) {
        next.set(spec.name, before);
        continue;
      }
      const buf = new Float32Array(n);
      if (spec.init !== 0) buf.fill(spec.init);
      segs.forEach((s, i) => {
        const src = sources[i];
        if (src && before) buf.set(before.subarray(src.offset, src.offset + src.size), s.offset);
        else if (!src) {
          const kept = this.parked.get(s.name)?.get(spec.name);
          if (kept && kept.length === s.size) buf.set(kept, s.offset);
        }
      });
      next.set(spec.name, buf);
    }
    if (!sameLayout) {
      // Resumed (or resized: its old state is of no use) weights leave the parking.
      for (const s of segs) this.parked.delete(s.name);
    }
    this.slotBuffers = next;
    this.layout = segs.map((s) => ({ name: s.name, offset: s.offset, size: s.size }));
    this.layoutLength = n;
    return this.layout;
  }
}

function checkLearningRate(owner: string, lr: unknown): number {
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
    throw new ValueError(
      `${owner}: learningRate must be a non-negative number or a LearningRateSchedule, received ${describe(lr)}`,
    );
  }
  return lr;
}

function optionalNumber(owner: string, option: string, v: unknown, zeroOk: boolean): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!zeroOk && v === 0)) {
    throw new ValueError(
      `${owner}: ${option} must be ${zeroOk ? 'a non-negative' : 'a positive'} number or null, received ${describe(v)}`,
    );
  }
  return v;
}

function sameSegments(a: readonly Segment[], b: readonly Segment[], n: number): boolean {
  if (b.length === 0) return a.length === 1 && a[0]!.name === '' && a[0]!.offset === 0 && a[0]!.size === n;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x.name !== y.name || x.offset !== y.offset || x.size !== y.size) return false;
  }
  return true;
}

/** Segments must tile [0, n) in order; an empty list stands for one unnamed weight. */
function checkSegments(owner: string, n: number, segments: readonly Segment[]): Segment[] {
  if (!Array.isArray(segments)) {
    throw new ValueError(`${owner}: segments must be an array of { name, offset, size }, received ${describe(segments)}`);
  }
  if (segments.length === 0) return [{ name: '', offset: 0, size: n }];
  let end = 0;
  for (const s of segments) {
    if (
      s === null || typeof s !== 'object' || typeof s.name !== 'string' ||
      !Number.isInteger(s.offset) || !Number.isInteger(s.size) || s.size < 0 || s.offset !== end
    ) {
      throw new ValueError(
        `${owner}: segments must tile the ${n} parameters in order; segment ${describe(s?.name)} has ` +
          `offset ${describe(s?.offset)} and size ${describe(s?.size)}, expected offset ${end}`,
      );
    }
    end += s.size;
  }
  if (end !== n) {
    throw new ValueError(`${owner}: segments cover ${end} parameters, but the buffer has ${n}`);
  }
  return segments.map((s) => ({ name: s.name, offset: s.offset, size: s.size }));
}

export function checkRange(owner: string, option: string, v: unknown, lo: number, hi: number, hiOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || (hiOpen ? v >= hi : v > hi)) {
    throw new ValueError(`${owner}: ${option} must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, received ${describe(v)}`);
  }
  return v;
}

export function checkPositive(owner: string, option: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new ValueError(`${owner}: ${option} must be a positive number, received ${describe(v)}`);
  }
  return v;
}

export function checkBoolean(owner: string, option: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ValueError(`${owner}: ${option} must be a boolean, received ${describe(v)}`);
  return v;
}

/** Weights as the (offset, size) pairs a training plan takes (native/train_plan.h PlanUpdate). */
function ranges(segs: readonly Segment[]): Float64Array {
  return Float64Array.from(segs.flatMap((s) => [s.offset, s.size]));
}

/** Optimizer-state keys of tensors without a name: one per tensor, for as long as it lives. */
const unnamedKeys = new WeakMap<Tensor, string>();
let unnamedCount = 0;
function unnamedKey(t: Tensor): string {
  let key = unnamedKeys.get(t);
  if (key === undefined) unnamedKeys.set(t, (key = `unnamed_tensor_${++unnamedCount}`));
  return key;
}
