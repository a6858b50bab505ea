/**
 * The TensorFlow.js "layers-model" format (tfjs-core `io/types.ts`, tfjs-layers `models.ts`), which
 * `tf.loadLayersModel` reads and Keras's tfjs converter writes:
 *
 *   model.json  { format: 'layers-model', generatedBy, convertedBy: null,
 *                 modelTopology: { class_name: 'Sequential', config: { name, layers: [{ class_name, config }] },
 *                                  keras_version, backend },
 *                 weightsManifest: [{ paths: ['weights.<hash>.bin'], weights: [{ name, shape, dtype }] }] }
 *   *.bin       the weights of each manifest group, little-endian, concatenated in manifest order
 *               (a group's paths are shards of one buffer).
 *
 * Weight specs with `group: 'optimizer'` hold the optimizer state (tfjs's convention; tfjs ignores
 * them when it loads the model without an optimizer). deepnode's own extras (the compile settings
 * that let training resume) live under the top-level key `deepnode`, which tfjs ignores.
 *
 * Everything read from disk is validated here before anything is allocated from it: a hostile
 * manifest (absurd shapes, paths leaving the directory) is refused with an IOError naming the file.
 */
import { IOError, describe } from '../errors';
import type { MetricSpec } from '../metrics';

/** tfjs's `format` value for Keras-style layers models. */
export const LAYERS_MODEL_FORMAT = 'layers-model';
/** Version of the `deepnode` section; readers refuse files from a newer writer. */
export const DEEPNODE_FORMAT_VERSION = 1;
/** Keras's JSON files above this size are certainly not model.json files. */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;
/** Largest single weight we accept (elements); refuses absurd shapes before allocating. */
export const MAX_WEIGHT_ELEMENTS = 2 ** 31 - 1;
/** Largest rank of a weight. */
export const MAX_WEIGHT_RANK = 8;

/** Element type of a stored weight (`float32` for weights; `int32` for integer state such as step counters). */
export type WeightDType = 'float32' | 'int32';

/** One entry of a manifest group: a tensor's name, shape and dtype (tfjs's WeightsManifestEntry). */
export interface WeightSpec {
  /** Weight name, e.g. `'dense/kernel'` (optimizer state: `'dense/kernel/m'`, `'iter'`, ...). */
  name: string;
  /** Dimensions of the tensor. */
  shape: number[];
  /** Element type in the .bin file. */
  dtype: WeightDType;
  /** 'optimizer' for optimizer state, as tfjs writes it; absent for model weights. */
  group?: 'model' | 'optimizer';
}

/** A group of weights stored in `paths` (shards, concatenated in order). */
export interface WeightsManifestGroup {
  /** Files of the group, relative to model.json; shards of one buffer, concatenated in order. */
  paths: string[];
  /** The tensors stored in the group, in storage order. */
  weights: WeightSpec[];
}

/** What deepnode adds so that `loadModel` can compile the model and resume training. */
export interface DeepnodeSection {
  /** Version of this section (see DEEPNODE_FORMAT_VERSION); readers refuse newer versions. */
  formatVersion: number;
  /** The compile settings, or null/absent when the model was not compiled. */
  trainingConfig?: TrainingConfig | null;
}

/** Keras's training_config: the loss, the metrics and the optimizer as { class_name, config }. */
export interface TrainingConfig {
  /** The loss: its string id or `{ class_name, config }`. */
  loss: string | {
    /** Keras class name of the loss. */
    class_name: string;
    /** Its config (snake_case keys). */
    config: Record<string, unknown>;
  };
  /** The metrics: an id ('accuracy') or `{ class_name, config }` each (older saves hold ids only). */
  metrics: MetricSpec[];
  /** compile's weightedMetrics, as `metrics` (absent when there are none). Keras: `weighted_metrics`. */
  weighted_metrics?: MetricSpec[];
  /** The optimizer as `{ class_name, config }`, e.g. `{ class_name: 'Adam', config: { learning_rate: 0.001, ... } }`. */
  optimizer_config: {
    /** Keras class name of the optimizer, e.g. `'Adam'`. */
    class_name: string;
    /** Its config (snake_case keys). */
    config: Record<string, unknown>;
  };
}

/** The contents of model.json (tfjs's ModelJSON plus deepnode's extras). */
export interface ModelJSON {
  /** Always `'layers-model'`. */
  format: string;
  /** Library and version that wrote the file, e.g. `'deepnode v0.1.0'`. */
  generatedBy: string;
  /** Converter that produced the file, or null (files written by deepnode or tfjs). */
  convertedBy: string | null;
  /** null for a weights-only save (model.saveWeights / modelCheckpoint with saveWeightsOnly). */
  modelTopology: Record<string, unknown> | null;
  /** Where each weight lies in the .bin files. */
  weightsManifest: WeightsManifestGroup[];
  /** tfjs's Keras-format training config (written by tfjs with includeOptimizer); read, not written. */
  trainingConfig?: unknown;
  /** deepnode's extras (compile settings), ignored by tfjs. */
  deepnode?: DeepnodeSection;
}

/** Parse and validate model.json text. `file` names the file in errors. */
export function parseModelJSON(text: string, file: string): ModelJSON {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new IOError(`${file}: not valid JSON (${(e as Error).message}); the file is corrupted or is not a model.json`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new IOError(`${file}: expected a JSON object with modelTopology and weightsManifest, received ${describe(json)}`);
  }
  const m = json as Record<string, unknown>;
  // tfjs writes format since 1.x; files converted from Keras by old converters may omit it.
  if (m.format !== undefined && m.format !== LAYERS_MODEL_FORMAT) {
    throw new IOError(
      `${file}: format ${describe(m.format)} is not supported; deepnode reads '${LAYERS_MODEL_FORMAT}' files ` +
        '(a tfjs graph-model cannot be rebuilt as layers)',
    );
  }
  const topology = m.modelTopology;
  if (topology !== null && (typeof topology !== 'object' || Array.isArray(topology))) {
    throw new IOError(`${file}: modelTopology must be an object or null, received ${describe(topology)}`);
  }
  const deepnode = m.deepnode;
  if (deepnode !== undefined) {
    const v = (deepnode as Record<string, unknown> | null)?.formatVersion;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new IOError(`${file}: deepnode.formatVersion must be a positive integer, received ${describe(v)}`);
    }
    if (v > DEEPNODE_FORMAT_VERSION) {
      throw new IOError(
        `${file}: written by a newer deepnode (format version ${v}); this version reads up to ${DEEPNODE_FORMAT_VERSION}. Upgrade deepnode`,
      );
    }
  }
  return {
    format: LAYERS_MODEL_FORMAT,
    generatedBy: typeof m.generatedBy === 'string' ? m.generatedBy : '',
    convertedBy: typeof m.convertedBy === 'string' ? m.convertedBy : null,
    modelTopology: (topology ?? null) as Record<string, unknown> | null,
    weightsManifest: parseManifest(m.weightsManifest, file),
    trainingConfig: m.trainingConfig,
    deepnode: deepnode as DeepnodeSection | undefined,
  };
}

function parseManifest(manifest: unknown, file: string): WeightsManifestGroup[] {
  if (manifest === undefined || manifest === null) return [];
  if (!Array.isArray(manifest)) {
    throw new IOError(`${file}: weightsManifest must be an array of { paths, weights }, received ${describe(manifest)}`);
  }
  const names = new Set<string>();
  return manifest.map((g: unknown, gi): WeightsManifestGroup => {
    const group = g as Record<string, unknown> | null;
    if (group === null || typeof group !== 'object' || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new IOError(`${file}: weightsManifest[${gi}] must be { paths: string[], weights: [...] }, received ${describe(g)}`);
    }
    const paths = group.paths.map((p: unknown) => checkWeightPath(p, file));
    if (paths.length === 0 && group.weights.length > 0) {
      throw new IOError(`${file}: weightsManifest[${gi}] lists weights but no paths`);
    }
    const weights = group.weights.map((w: unknown, wi: number) => {
      const spec = checkSpec(w, file, `weightsManifest[${gi}].weights[${wi}]`);
      if (names.has(spec.name)) throw new IOError(`${file}: weight name ${describe(spec.name)} appears twice in weightsManifest`);
      names.add(spec.name);
      return spec;
    });
    return { paths, weights };
  });
}

/** A shard path must stay inside the model's directory: relative, no '..', no drive or NUL. */
function checkWeightPath(p: unknown, file: string): string {
  if (typeof p !== 'string' || p === '') {
    throw new IOError(`${file}: weight file paths must be non-empty strings, received ${describe(p)}`);
  }
  const parts = p.split(/[\\/]/);
  if (p.startsWith('/') || p.startsWith('\\') || /^[a-zA-Z]:/.test(p) || p.includes('\0') || parts.some((s) => s === '..' || s === '')) {
    throw new IOError(
      `${file}: refusing weight file path ${describe(p)}: paths must be relative to the model's directory, without '..'`,
    );
  }
  return p;
}

function checkSpec(w: unknown, file: string, where: string): WeightSpec {
  const spec = w as Record<string, unknown> | null;
  if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string' || spec.name === '') {
    throw new IOError(`${file}: ${where} must be { name, shape, dtype }, received ${describe(w)}`);
  }
  const name = spec.name;
  const shape = spec.shape;
  if (!Array.isArray(shape) || shape.length > MAX_WEIGHT_RANK || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
    throw new IOError(
      `${file}: weight ${describe(name)} has shape ${describe(shape)}; expected at most ${MAX_WEIGHT_RANK} non-negative integers`,
    );
  }
  let elements = 1;
  for (const d of shape as number[]) elements *= d;
  if (elements > MAX_WEIGHT_ELEMENTS) {
    throw new IOError(`${file}: weight ${describe(name)} has shape [${shape}] (${elements} elements), more than ${MAX_WEIGHT_ELEMENTS}; refusing it`);
  }
  if (spec.quantization !== undefined && spec.quantization !== null) {
    throw new IOError(`${file}: weight ${describe(name)} is quantized (${JSON.stringify(spec.quantization)}); quantized tfjs weights are not supported`);
  }
  const dtype = spec.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'int32') {
    throw new IOError(`${file}: weight ${describe(name)} has dtype ${describe(dtype)}; supported dtypes: 'float32', 'int32'`);
  }
  const group = spec.group;
  if (group !== undefined && group !== 'model' && group !== 'optimizer') {
    throw new IOError(`${file}: weight ${describe(name)} has group ${describe(group)}; expected 'model' or 'optimizer'`);
  }
  return { name, shape: [...(shape as number[])], dtype, ...(group === 'optimizer' ? { group } : {}) };
}

/** Bytes a spec occupies in the weights buffer (both supported dtypes have 4-byte elements). */
export function specBytes(spec: WeightSpec): number {
  return spec.shape.reduce((n, d) => n * d, 1) * 4;
}
