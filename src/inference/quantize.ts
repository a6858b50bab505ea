/**
 * Post-training weight quantization for inference (the chapter's low-latency advice):
 * `quantize(model, { dtype })` returns an inference-only copy of a built Sequential whose Dense
 * layers become `QuantizedDense` layers holding
 *   - 'float16': IEEE binary16 weights (Uint16Array bit patterns, round to nearest even), or
 *   - 'int8':    per-output-channel symmetric int8 weights, scale_j = max_p |W[p, j]| / 127 and
 *                q = round(W / scale_j) in [-127, 127] (so |W - q * scale_j| <= scale_j / 2),
 * read directly by native kernels (native/quantized.h). Activations, biases and every other layer
 * stay float32. Small batches run a dot loop that converts each weight vector once per 4 rows;
 * larger ones convert k-panels of the weights to float32 and use the packed SGEMM.
 */
import { Tensor } from '../tensor';
import { Layer, LayerArgs, SymbolicShape, Variable, CallArgs } from '../layers/layer';
import { Dense } from '../layers/dense';
import { layerFromConfig, registerLayer, layerArgsFromConfig, serializeLayer } from '../layers/serialization';
import '../layers'; // every layer class registers itself for layerFromConfig
import { Sequential, FitArgs } from '../models/sequential';
import type { TensorLike } from '../models/data';
import type { History } from '../callbacks/history';
import { ActivationId, ActivationSpec, getActivation, apply } from '../activations';
import { getInitializer } from '../initializers';
import { native, ActId } from '../backend/native';
import { output } from '../autograd/engine';
import { ShapeError, StateError, ValueError, checkOptions, describe, unknownId } from '../errors';

/** Storage of quantized Dense kernels: `'float16'` (half precision) or `'int8'` (with one float32 scale per unit). */
export type QuantizeDtype = 'float16' | 'int8';

/** Options of {@link quantize}. */
export interface QuantizeOptions {
  /** Storage of the Dense kernels. */
  dtype: QuantizeDtype;
}

const DTYPES: readonly QuantizeDtype[] = ['float16', 'int8'];
/** float16's largest finite value. */
const F16_MAX = 65504;

function checkDtype(dtype: unknown, where: string): QuantizeDtype {
  if (typeof dtype !== 'string' || !DTYPES.includes(dtype as QuantizeDtype)) unknownId(`${where} dtype`, dtype, DTYPES);
  return dtype as QuantizeDtype;
}

export interface QuantizedDenseArgs extends LayerArgs {
  /** Output dimension (positive integer), as Dense's `units`. */
  units: number;
  /** Storage of the kernel (required). */
  dtype: QuantizeDtype;
  /** As Dense's (default linear). */
  activation?: ActivationId | ActivationSpec | null;
  /** Default true. */
  useBias?: boolean;
}

/**
 * A Dense layer for inference with float16 or int8 kernel storage: output = act(x · W + b).
 * Predict-only: it has no trainable weights and refuses to run in training mode. The bias stays
 * float32 (its only `weights` entry); the kernel is in `kernelFloat16` or `kernelInt8` + `scales`.
 */
export class QuantizedDense extends Layer {
  /** Output dimension, as Dense's `units`. */
  readonly units: number;
  /** Storage of the kernel. */
  readonly dtype: QuantizeDtype;
  /** As Dense's (default linear). */
  readonly activation: ActivationSpec;
  /** Default true. */
  readonly useBias: boolean;
  /** Input dimension (rows of the kernel), once built. */
  inputDim = 0;
  /** float16 bit patterns, row-major [inputDim, units] (dtype 'float16'). */
  kernelFloat16: Uint16Array | null = null;
  /** int8 values, row-major [inputDim, units] (dtype 'int8'). */
  kernelInt8: Int8Array | null = null;
  /** Per-unit scales of the int8 kernel (dtype 'int8'). */
  scales: Float32Array | null = null;
  /** Bias vector [units] in float32; null before `build` or when `useBias` is false. */
  bias: Variable | null = null;

  constructor(args: QuantizedDenseArgs) {
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`QuantizedDense: expected an options object like { units: 10, dtype: 'int8' }, received ${describe(args)}`);
    }
    super({ ...args, trainable: false }, ['units', 'dtype', 'activation', 'useBias']);
    if (!Number.isInteger(args.units) || args.units <= 0) {
      throw new ValueError(`${this.describeSelf()}: units must be a positive integer, received units=${describe(args.units)}`);
    }
    this.units = args.units;
    this.dtype = checkDtype(args.dtype, this.describeSelf());
    this.activation = getActivation(args.activation, `${this.describeSelf()} activation`);
    this.useBias = args.useBias ?? true;
  }

  override get className(): string {
    return 'QuantizedDense';
  }

  /** Creates zero weights of the layer's dtype; `setKernel` fills them. */
  override build(inputShape: SymbolicShape): void {
    const inputDim = inputShape[inputShape.length - 1];
    if (inputShape.length < 2 || typeof inputDim !== 'number') {
      throw new ShapeError(
        `${this.describeSelf()}: expected input of rank >= 2 with a known last dimension, received shape [${inputShape.map(String)}]`,
      );
    }
    this.inputDim = inputDim;
    const size = inputDim * this.units;
    if (this.dtype === 'float16') this.kernelFloat16 = new Uint16Array(size);
    else {
      this.kernelInt8 = new Int8Array(size);
      this.scales = new Float32Array(this.units);
    }
    if (this.useBias) this.bias = this.addWeight('bias', [this.units], getInitializer('zeros'), { trainable: false });
    this.built = true;
  }

  /** Quantize a float32 kernel [inputDim, units] into this layer. */
  setKernel(kernel: Float32Array | Tensor): void {
    this.assertBuilt();
    const data = kernel instanceof Tensor ? kernel.data : kernel;
    if (kernel instanceof Tensor && (kernel.rank !== 2 || kernel.shape[0] !== this.inputDim || kernel.shape[1] !== this.units)) {
      throw new ShapeError(`${this.describeSelf()}: setKernel expected shape [${this.inputDim}, ${this.units}], received [${kernel.shape}]`);
    }
    if (!(data instanceof Float32Array) || data.length !== this.inputDim * this.units) {
      throw new ShapeError(
        `${this.describeSelf()}: setKernel expected a Float32Array of ${this.inputDim * this.units} values, received ${describe(data)}`,
      );
    }
    // A NaN or infinite weight has no int8 code (its column's scale would be NaN or Inf), and a
    // float16 one beyond 65504 would become Inf: refuse rather than change the model's outputs.
    const bad = native.firstNonFinite(data);
    if (bad >= 0) {
      throw new ValueError(`${this.describeSelf()}: setKernel: kernel value at index ${bad} is ${data[bad]}; only finite weights can be quantized`, 'ERR_NON_FINITE');
    }
    if (this.dtype === 'float16') {
      for (let i = 0; i < data.length; i++) {
        if (Math.abs(data[i]!) > F16_MAX) {
          throw new ValueError(`${this.describeSelf()}: setKernel: kernel value at index ${i} is ${data[i]}, beyond float16's largest finite value ${F16_MAX}; quantize to int8 or keep this layer float32`);
        }
      }
      native.f32ToF16(data, this.kernelFloat16!);
    } else native.quantizeInt8(data, this.inputDim, this.units, this.kernelInt8!, this.scales!);
  }

  /** The kernel as float32 values (what the products compute with), [inputDim, units]. */
  dequantizedKernel(): Tensor {
    this.assertBuilt();
    const out = new Float32Array(this.inputDim * this.units);
    if (this.dtype === 'float16') native.f16ToF32(this.kernelFloat16!, out);
    else {
      const q = this.kernelInt8!, s = this.scales!, n = this.units;
      for (let i = 0; i < out.length; i++) out[i] = q[i]! * s[i % n]!;
    }
    return new Tensor(out, [this.inputDim, this.units]);
  }

  /**
   * Keras order, kernel then bias. The kernel is a fresh float32 copy of the dequantized values
   * (writing to it changes nothing; use setWeights), so saving a quantized model stores float32
   * kernels and loading it quantizes them again (float16 round-trips exactly).
   */
  override get weights(): Variable[] {
    if (!this.built) return [];
    const kernel = this.dequantizedKernel();
    const v = new Variable(kernel.data, kernel.shape, `${this.name}/kernel`, false);
    return this.bias ? [v, this.bias] : [v];
  }

  override get nonTrainableWeights(): Variable[] {
    return this.weights;
  }

  override get trainableWeights(): Variable[] {
    return [];
  }

  /** Quantizes the kernel it receives (shapes checked as for any layer). */
  override setWeights(values: readonly Tensor[]): void {
    const ws = this.weights;
    if (!Array.isArray(values) || values.length !== ws.length) {
      throw new ShapeError(`${this.describeSelf()}: setWeights expected ${ws.length} arrays, received ${describe(values)}`);
    }
    ws.forEach((w, i) => {
      const v: Tensor = values[i]!;
      if (v.shape.length !== w.shape.length || v.shape.some((d, j) => d !== w.shape[j])) {
        throw new ShapeError(`${this.describeSelf()}: weight "${w.name}" has shape [${w.shape}], received [${v.shape}]`);
      }
    });
    this.setKernel(values[0]!.data);
    if (this.bias) this.bias.data.set(values[1]!.data);
  }

  /** Bytes of weight storage: the quantized kernel, the int8 scales and the float32 bias. */
  weightBytes(): number {
    const kernel = this.kernelFloat16?.byteLength ?? 0;
    const q = (this.kernelInt8?.byteLength ?? 0) + (this.scales?.byteLength ?? 0);
    return kernel + q + (this.bias ? this.bias.size * 4 : 0);
  }

  override countParams(): number {
    return this.inputDim * this.units + (this.bias ? this.bias.size : 0);
  }

  call(x: Tensor, args: CallArgs): Tensor {
    this.assertBuilt();
    if (args.training) {
      throw new StateError(
        `${this.describeSelf()}: quantized layers are inference-only (${this.dtype} weights have no gradient); ` +
          'train the float32 model, then quantize it again',
      );
    }
    const k = this.inputDim, n = this.units;
    if (x.rank < 2 || x.shape[x.rank - 1] !== k) {
      throw new ShapeError(`${this.describeSelf()}: expected input with last dimension ${k}, received shape [${x.shape.join(', ')}]`);
    }
    const m = x.size / k;
    const z = output([...x.shape.slice(0, -1), n]);
    const bias = this.bias ? this.bias.data : null;
    if (this.dtype === 'float16') native.gemmF16(m, n, k, x.data, this.kernelFloat16!, bias, z.data, 0);
    else native.gemmI8(m, n, k, x.data, this.kernelInt8!, this.scales!, bias, z.data, 0);
    const spec = this.activation;
    if (spec.id === ActId.Linear) return z;
    // Element-wise activations in place; softmax, sigmoid and mish through their ops.
    if (spec.id !== null && spec.id !== ActId.Sigmoid && !spec.fn) {
      native.activationForward(spec.id, z.data, z.data, spec.alpha);
      return z;
    }
    return apply(spec, z);
  }

  computeOutputShape(inputShape: SymbolicShape): SymbolicShape {
    return [...inputShape.slice(0, -1), this.units];
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), units: this.units, activation: this.activation.name, use_bias: this.useBias, dtype: this.dtype };
  }
}

registerLayer('QuantizedDense', (c) =>
  new QuantizedDense({
    ...layerArgsFromConfig(c),
    units: c.units as number,
    dtype: c.dtype as QuantizeDtype,
    activation: (c.activation ?? undefined) as ActivationId | undefined,
    useBias: (c.use_bias ?? undefined) as boolean | undefined,
  }),
);

/** A Sequential whose Dense layers are quantized: predict and evaluate work, fit does not. */
export class QuantizedSequential extends Sequential {
  constructor(
    layers: Layer[],
    /** Storage of the quantized Dense kernels. */
    readonly dtype: QuantizeDtype,
    options: { name?: string } = {},
  ) {
    super(layers, options);
  }

  override fit(_x: TensorLike, _y: TensorLike, _args?: FitArgs): Promise<History> {
    return Promise.reject(
      new StateError(
        `Sequential "${this.name}": this model was quantized to ${this.dtype} for inference only and cannot be trained; ` +
          'fit the float32 model, then call quantize() again',
      ),
    );
  }
}

/**
 * An inference-only copy of `model` with every Dense layer stored as `dtype` (see the file
 * comment). Other layers are rebuilt from their configs with copies of their weights; the input
 * model is not changed. The model must be built (its input shape known).
 */
export function quantize(model: Sequential, options: QuantizeOptions): QuantizedSequential {
  if (!(model instanceof Sequential)) {
    throw new ValueError(`quantize: expected a Sequential model, received ${describe(model)}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new ValueError(`quantize: expected options like { dtype: 'int8' }, received ${describe(options)}`);
  }
  checkOptions('quantize', options, ['dtype']);
  const dtype = checkDtype(options.dtype, 'quantize');
  const inputShape = model.inputShape;
  if (!inputShape) {
    throw new StateError(
      `quantize: Sequential "${model.name}" is not built; give its first layer an inputShape, or call build() or fit() first`,
    );
  }
  const source = model.layers;
  const layers = source.map((layer, i) => {
    if (layer instanceof Dense) {
      return new QuantizedDense({
        name: layer.name,
        units: layer.units,
        dtype,
        activation: layer.activation,
        useBias: layer.useBias,
        ...(i === 0 ? { batchInputShape: inputShape } : {}),
      });
    }
    return layerFromConfig(serializeLayer(layer));
  });
  const out = new QuantizedSequential(layers, dtype, { name: model.name });
  if (!out.built) out.build(inputShape);
  source.forEach((layer, i) => {
    const copy = layers[i]!;
    if (copy instanceof QuantizedDense) {
      const dense = layer as Dense;
      copy.setKernel(dense.kernel!.data);
      if (copy.bias) copy.bias.data.set(dense.bias!.data);
    } else {
      copy.setWeights(layer.getWeights());
    }
  });
  return out;
}

/**
 * Bytes of weight storage of a model: 4 per float32 parameter, and for QuantizedDense layers their
 * actual storage (2 or 1 bytes per kernel weight, plus int8 scales and the float32 bias).
 */
export function weightBytes(model: Sequential): number {
  if (!(model instanceof Sequential)) throw new ValueError(`weightBytes: expected a Sequential model, received ${describe(model)}`);
  return model.layers.reduce((sum, l) => sum + (l instanceof QuantizedDense ? l.weightBytes() : 4 * l.countParams()), 0);
}
