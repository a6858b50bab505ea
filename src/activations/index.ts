/**
 * Activation functions by name, as Keras's `activation=` strings. Element-wise ones map to a native
 * kernel id (forward and backward in C++, fused into Dense); softmax is row-wise and handled apart.
 */
import { Tensor } from '../tensor';
import { ActId } from '../backend/native';
import { activation as activationOp, softmax as softmaxOp, sigmoid as sigmoidOp } from '../ops/activation';
import { mish as mishOp } from '../ops/activations_ext';
import { ValueError, checkOptions, describe, unknownId } from '../errors';

/** A resolved activation: its Keras name, the native kernel that computes it and the kernel's parameter. */
export interface ActivationSpec {
  /** Keras's serialised name. */
  readonly name: string;
  /** Native element-wise kernel, or null for softmax. */
  readonly id: ActId | null;
  /** Kernel parameter (leaky slope, ELU alpha, swish beta). */
  readonly alpha: number;
  /** For activations with no id in the fused kernel (id null, e.g. mish): the op that applies it. */
  readonly fn?: (x: Tensor) => Tensor;
}

/** Activation names accepted by `activation:` options and {@link getActivation} (Keras's strings, plus camelCase aliases). */
export type ActivationId =
  | 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'softmax' | 'elu' | 'selu' | 'softplus' | 'softsign'
  | 'swish' | 'silu' | 'gelu' | 'hardSigmoid' | 'hard_sigmoid' | 'exponential' | 'relu6'
  | 'leakyRelu' | 'leaky_relu' | 'mish' | 'geluApproximate' | 'gelu_approximate';

const SPECS: Record<string, ActivationSpec> = {
  linear: { name: 'linear', id: ActId.Linear, alpha: 0 },
  relu: { name: 'relu', id: ActId.Relu, alpha: 0 },
  sigmoid: { name: 'sigmoid', id: ActId.Sigmoid, alpha: 0 },
  tanh: { name: 'tanh', id: ActId.Tanh, alpha: 0 },
  softmax: { name: 'softmax', id: null, alpha: 0 },
  elu: { name: 'elu', id: ActId.Elu, alpha: 1 },
  selu: { name: 'selu', id: ActId.Selu, alpha: 0 },
  softplus: { name: 'softplus', id: ActId.Softplus, alpha: 0 },
  softsign: { name: 'softsign', id: ActId.Softsign, alpha: 0 },
  swish: { name: 'silu', id: ActId.Swish, alpha: 1 },
  silu: { name: 'silu', id: ActId.Swish, alpha: 1 },
  gelu: { name: 'gelu', id: ActId.GeluExact, alpha: 0 }, // Keras 3: approximate=False by default
  hardsigmoid: { name: 'hard_sigmoid', id: ActId.HardSigmoid, alpha: 0 },
  exponential: { name: 'exponential', id: ActId.Exponential, alpha: 0 },
  relu6: { name: 'relu6', id: ActId.Relu6, alpha: 0 },
  leakyrelu: { name: 'leaky_relu', id: ActId.LeakyRelu, alpha: 0.2 }, // keras.activations.leaky_relu default
  mish: { name: 'mish', id: null, alpha: 0, fn: mishOp },
  // keras.activations.gelu(x, approximate=True), the tanh form; Keras has no string for it, this
  // name is ours (also reachable as gelu({ approximate: true })).
  geluapproximate: { name: 'gelu_approximate', id: ActId.GeluTanh, alpha: 0 },
};

const VALID = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'softplus', 'softsign', 'swish', 'silu',
  'gelu', 'hardSigmoid', 'exponential', 'relu6', 'leakyRelu', 'mish', 'geluApproximate'];

/**
 * Resolve 'relu', 'leaky_relu', 'hardSigmoid', ... (undefined/null means linear); a spec from this
 * module (e.g. gelu({ approximate: true })) is resolved by its name.
 */
export function getActivation(
  id: ActivationId | ActivationSpec | string | null | undefined,
  where = 'activation',
): ActivationSpec {
  if (id === undefined || id === null) return SPECS.linear!;
  const key = typeof id === 'string' ? id : typeof id === 'object' && typeof id.name === 'string' ? id.name : undefined;
  const spec = key !== undefined ? SPECS[key.replace(/_/g, '').toLowerCase()] : undefined;
  if (!spec) unknownId(where, id, VALID);
  return spec;
}

/** GELU, exact x * Phi(x) by default as in Keras 3; `approximate: true` gives the tanh form. */
export function gelu(options: { approximate?: boolean } = {}): ActivationSpec {
  checkOptions('gelu', options, ['approximate']);
  if (options.approximate !== undefined && typeof options.approximate !== 'boolean') {
    throw new ValueError(`gelu: approximate must be a boolean, received approximate=${describe(options.approximate)}`);
  }
  return options.approximate ? SPECS.geluapproximate! : SPECS.gelu!;
}

/** Apply an activation to a tensor (records gradients like any op). */
export function apply(spec: ActivationSpec, x: Tensor): Tensor {
  if (spec.fn) return spec.fn(x);
  if (spec.id === null) return softmaxOp(x);
  if (spec.id === ActId.Sigmoid) return sigmoidOp(x);
  return activationOp(x, spec.id, spec.alpha);
}
