/**
 * Saving and loading Sequential models in the TensorFlow.js layers format (see format.ts), so
 * `tf.loadLayersModel` reads what we write and `loadModel` reads what tfjs (or Keras's converter)
 * writes.
 *
 * A save never destroys the previous good one: the weights go to a content-addressed file
 * (`weights.<16 hex of sha256>.bin`) through temp file + fsync + rename, then model.json (which
 * names that file) the same way, and only then are weight files no longer named removed. A crash at
 * any point leaves model.json pointing at a complete weights file: the old pair or the new one.
 * Saves into one directory from one process run one after another (inTurn); from several
 * processes at once they are not supported.
 *
 * Weights are matched by name ('dense/kernel'), as tfjs does, and their order in the file is
 * free. The optimizer state goes in the same file as tfjs writes it (specs with group 'optimizer':
 * 'iter', then '<weight>/<slot>'), and the compile settings under the `deepnode` key, so
 * `loadModel` returns a compiled model whose training resumes exactly where it stopped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Sequential } from '../models/sequential';
import { Tensor } from '../tensor';
import { Layer, SymbolicShape } from '../layers/layer';
import '../layers'; // every layer class registers itself for layerFromConfig
import { layerFromConfig, serializeLayer, SerializedLayer } from '../layers/serialization';
import { withWeightBudget } from '../layers/layer';
import { Loss, getLoss, isBuiltinLoss } from '../losses';
import { metricFromSpec, metricToSpec } from '../metrics';
import { isBuiltinOptimizer, optimizerFromConfig } from '../optimizers';
import type { NamedTensor } from '../optimizers/optimizer';
import { packageRoot } from '../backend/native';
import { DeepnodeError, IOError, ShapeError, StateError, ValueError, checkOptions, describe } from '../errors';
import {
  DEEPNODE_FORMAT_VERSION, LAYERS_MODEL_FORMAT, MAX_MODEL_JSON_BYTES, ModelJSON, TrainingConfig, WeightSpec,
  parseModelJSON, specBytes,
} from './format';
import { TEMP_PREFIX, fault, syncDir, wrapIO, writeFileAtomic } from './atomic';

/** Options of `model.save` / {@link saveModel}. Keras: `include_optimizer`. */
export interface SaveOptions {
  /** Save the optimizer state and compile settings so training can resume (default true, as Keras). */
  includeOptimizer?: boolean;
}

/** What a save wrote. */
export interface SaveResult {
  /** The model.json written. */
  modelPath: string;
  /** The weights file written. */
  weightsPath: string;
  /** Bytes of weights (model and optimizer). */
  weightBytes: number;
}

/** Options of {@link loadModel}. Keras: `compile`. */
export interface LoadOptions {
  /** Compile the model with the saved loss, metrics and optimizer (state included) when present (default true). */
  compile?: boolean;
}

const MODEL_JSON = 'model.json';
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const WEIGHTS_FILE = /^weights\.[0-9a-f]{16}\.bin$/;

let cachedVersion: string | null = null;
function version(): string {
  if (cachedVersion === null) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
      cachedVersion = pkg.version ?? 'unknown';
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

// ---------------------------------------------------------------------------------------------
// Saving

/** Save `model` to directory `dir` (created if missing): model.json and its weights file. */
export async function saveModel(model: Sequential, dir: string, options: SaveOptions = {}): Promise<SaveResult> {
  const owner = checkModel(model, 'save');
  if (options === null || typeof options !== 'object') throw new ValueError(`${owner}: save() options must be an object, received ${describe(options)}`);
  checkOptions(`${owner}: save()`, options, ['includeOptimizer']);
  const include = options.includeOptimizer ?? true;
  if (typeof include !== 'boolean') throw new ValueError(`${owner}: includeOptimizer must be a boolean, received ${describe(include)}`);
  if (!model.built) {
    throw new StateError(`${owner}: save() needs a built model; give the first layer an inputShape or call build() / fit() first`);
  }
  const tensors: [WeightSpec, Float32Array][] = model.weights.map((w) => [
    { name: w.name, shape: [...w.shape], dtype: 'float32' },
    w.data,
  ]);
  let training: TrainingConfig | null = null;
  if (include && model.optimizer) {
    training = trainingConfigOf(model);
    for (const { name, tensor } of model.optimizer.getWeights()) {
      tensors.push([{ name, shape: [...tensor.shape], dtype: name === 'iter' ? 'int32' : 'float32', group: 'optimizer' }, tensor.data]);
    }
  }
  const json = (weightsFile: string): ModelJSON => ({
    format: LAYERS_MODEL_FORMAT,
    generatedBy: `deepnode v${version()}`,
    convertedBy: null,
    modelTopology: topologyOf(model),
    weightsManifest: [{ paths: [weightsFile], weights: tensors.map(([spec]) => spec) }],
    deepnode: { formatVersion: DEEPNODE_FORMAT_VERSION, trainingConfig: training },
  });
  return writeModelDir(dir, tensors, json);
}

/** Save only the model's weights: model.json with modelTopology null, plus the weights file. */
export async function saveWeights(model: Sequential, dir: string): Promise<SaveResult> {
  const owner = checkModel(model, 'saveWeights');
  if (!model.built) throw new StateError(`${owner}: saveWeights() needs a built model`);
  const tensors: [WeightSpec, Float32Array][] = model.weights.map((w) => [{ name: w.name, shape: [...w.shape], dtype: 'float32' }, w.data]);
  return writeModelDir(dir, tensors, (weightsFile) => ({
    format: LAYERS_MODEL_FORMAT,
    generatedBy: `deepnode v${version()}`,
    convertedBy: null,
    modelTopology: null,
    weightsManifest: [{ paths: [weightsFile], weights: tensors.map(([spec]) => spec) }],
    deepnode: { formatVersion: DEEPNODE_FORMAT_VERSION },
  }));
}

function checkModel(model: unknown, where: string): string {
  if (!(model instanceof Sequential)) throw new ValueError(`${where}: expected a Sequential model, received ${describe(model)}`);
  return `Sequential "${model.name}"`;
}

/**
 * A nested { class_name, config } (initializer, regularizer, constraint) under the names tfjs-layers
 * 4.x knows, which our loader reads back as well: LeCunNormal / LeCunUniform (Keras 3: Lecun...),
 * and L1L2 for L1 and L2 (tfjs has no class of its own for either; the loader turns an L1L2 with
 * one factor 0 back into L1 or L2). Left as Keras writes it: VarianceScaling's 'untruncated_normal'
 * (tfjs knows 'normal', which both read as truncated), and ReLU's negative_slope and threshold
 * (tfjs's ReLU has max_value only and ignores them).
 */
function tfjsNested(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as { class_name?: unknown; config?: Record<string, unknown> };
  if (typeof o.class_name !== 'string') return v;
  const config = { ...(o.config ?? {}) };
  switch (o.class_name) {
    case 'LecunNormal':
      return { class_name: 'LeCunNormal', config };
    case 'LecunUniform':
      return { class_name: 'LeCunUniform', config };
    case 'L1':
      return { class_name: 'L1L2', config: { l1: config.l1 ?? 0, l2: 0 } };
    case 'L2':
      return { class_name: 'L1L2', config: { l1: 0, l2: config.l2 ?? 0 } };
    default:
      return v;
  }
}

/** The Keras topology tfjs reads: every layer's { class_name, config }, the first with batch_input_shape. */
function topologyOf(model: Sequential): Record<string, unknown> {
  const layers = model.layers.map((layer, i): SerializedLayer => {
    const { class_name, config } = serializeLayer(layer);
    const c: Record<string, unknown> = { ...config, dtype: config.dtype ?? 'float32' };
    if (i === 0 && c.batch_input_shape === undefined) c.batch_input_shape = [...(model.inputShape as SymbolicShape)];
    // tfjs-layers (like Keras 2) calls LeakyReLU's slope alpha and ignores negative_slope: write both.
    if (class_name === 'LeakyReLU' && c.alpha === undefined) c.alpha = c.negative_slope;
    for (const [k, v] of Object.entries(c)) c[k] = tfjsNested(v);
    return { class_name, config: c };
  });
  return {
    class_name: 'Sequential',
    config: { name: model.name, layers },
    keras_version: `deepnode ${version()}`,
    backend: 'deepnode',
  };
}

function trainingConfigOf(model: Sequential): TrainingConfig | null {
  const compiled = model.compileConfig;
  const optimizer = model.optimizer;
  if (!compiled || !optimizer) return null;
  const fromLogits = (compiled.loss as Loss & { fromLogits?: boolean }).fromLogits === true;
  // A loss of the user's own, or a subclass of a built-in, must not come back as the built-in of
  // the same name: it is saved as class 'Custom', which loading refuses (use { compile: false }).
  const loss: TrainingConfig['loss'] = !isBuiltinLoss(compiled.loss)
    ? { class_name: 'Custom', config: { name: compiled.loss.name } }
    : fromLogits
      ? { class_name: compiled.loss.name, config: { from_logits: true } }
      : compiled.loss.name;
  return {
    loss,
    metrics: compiled.metrics.map(metricToSpec),
    ...(compiled.weightedMetrics.length > 0 ? { weighted_metrics: compiled.weightedMetrics.map(metricToSpec) } : {}),
    // A subclass of a built-in (or an optimizer of the user's own) as class 'Custom', as for losses:
    // under the built-in's name it would load as the plain built-in without a word.
    optimizer_config: { class_name: isBuiltinOptimizer(optimizer) ? optimizer.className : 'Custom', config: optimizer.getConfig() },
  };
}

async function writeModelDir(
  dir: string,
  tensors: readonly [WeightSpec, Float32Array][],
  makeJson: (weightsFile: string) => ModelJSON,
): Promise<SaveResult> {
  if (typeof dir !== 'string' || dir === '') throw new ValueError(`save: expected a directory path, received ${describe(dir)}`);
  const data = encodeWeights(tensors);
  const weightsFile = `weights.${createHash('sha256').update(data).digest('hex').slice(0, 16)}.bin`;
  const text = JSON.stringify(makeJson(weightsFile));
  return inTurn(dir, async () => {
    try {
      await fs.promises.mkdir(dir, { recursive: true });
    } catch (e) {
      throw wrapIO(e, `creating directory ${dir}`);
    }
    fault('mkdir');
    await writeFileAtomic(dir, weightsFile, data);
    fault('weights-written');
    await writeFileAtomic(dir, MODEL_JSON, Buffer.from(text, 'utf8'));
    fault('model-json-written');
    await removeStale(dir, weightsFile);
    return { modelPath: path.join(dir, MODEL_JSON), weightsPath: path.join(dir, weightsFile), weightBytes: data.length };
  });
}

/** The last save queued per directory (resolved path) in this process. */
const savesInFlight = new Map<string, Promise<unknown>>();

/**
 * Run `write` after every save into `dir` that this process started before it: two overlapping
 * saves into one directory would otherwise each delete the other's weights file (removeStale) and
 * could leave model.json naming a deleted one. The later save wins, as if they ran one by one.
 */
async function inTurn<T>(dir: string, write: () => Promise<T>): Promise<T> {
  const key = path.resolve(dir);
  const before = savesInFlight.get(key) ?? Promise.resolve();
  const mine = before.then(write, write);
  const settled = mine.then(
    () => undefined,
    () => undefined,
  );
  savesInFlight.set(key, settled);
  try {
    return await mine;
  } finally {
    if (savesInFlight.get(key) === settled) savesInFlight.delete(key);
  }
}

/** Little-endian bytes of every tensor in order ('int32' specs are written as integers). */
function encodeWeights(tensors: readonly [WeightSpec, Float32Array][]): Uint8Array {
  const total = tensors.reduce((n, [spec]) => n + specBytes(spec), 0);
  const buf = new ArrayBuffer(total);
  const view = new DataView(buf);
  let offset = 0;
  for (const [spec, values] of tensors) {
    if (specBytes(spec) !== values.length * 4) {
      throw new ShapeError(`save: weight "${spec.name}" has shape [${spec.shape}] but ${values.length} values`);
    }
    if (spec.dtype === 'int32') {
      for (let i = 0; i < values.length; i++) view.setInt32(offset + 4 * i, values[i]!, true);
    } else {
      new Float32Array(buf, offset, values.length).set(values);
    }
    offset += values.length * 4;
  }
  if (!LITTLE_ENDIAN) {
    // Big-endian host: the Float32Array copies above wrote native order; fix them up.
    offset = 0;
    for (const [spec, values] of tensors) {
      if (spec.dtype === 'float32') for (let i = 0; i < values.length; i++) view.setFloat32(offset + 4 * i, values[i]!, true);
      offset += values.length * 4;
    }
  }
  return new Uint8Array(buf);
}

/**
 * Remove weight files model.json no longer names, and temporary files of saves that crashed
 * (their process is gone). Only our own file-name patterns are touched.
 */
async function removeStale(dir: string, keep: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (e) {
    throw wrapIO(e, `listing ${dir}`);
  }
  let removed = false;
  for (const name of names) {
    const stale = (WEIGHTS_FILE.test(name) && name !== keep) || (name.startsWith(TEMP_PREFIX) && !processAlive(name));
    if (!stale) continue;
    await fs.promises.rm(path.join(dir, name), { force: true }).catch(() => undefined);
    removed = true;
  }
  if (removed) await syncDir(dir);
}

function processAlive(tempName: string): boolean {
  const pid = Number(tempName.slice(TEMP_PREFIX.length).split('-')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true; // a save of ours may be in flight
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

interface LoadedWeights {
  json: ModelJSON;
  file: string;
  /** Model weights by name, in file order. */
  model: Map<string, { spec: WeightSpec; data: Float32Array }>;
  /** Optimizer state in file order. */
  optimizer: NamedTensor[];
}

/**
 * Load a Sequential saved by `model.save` or by TensorFlow.js (`tf.LayersModel.save`, the Keras
 * converter): `path` is the directory or its model.json. Compiles the model and restores the
 * optimizer state when the file holds deepnode's training config.
 */
export async function loadModel(location: string, options: LoadOptions = {}): Promise<Sequential> {
  checkOptions('loadModel', options, ['compile']);
  if (options.compile !== undefined && typeof options.compile !== 'boolean') {
    throw new ValueError(`loadModel: compile must be a boolean, received compile=${describe(options.compile)}`);
  }
  const loaded = await readModelDir(location);
  const { json, file } = loaded;
  if (json.modelTopology === null) {
    throw new IOError(
      `${file}: has no modelTopology (it was written by saveWeights or modelCheckpoint with saveWeightsOnly); ` +
        'build the model in code and call model.loadWeights() instead',
    );
  }
  // The file's weights bound what the topology may allocate (checked before each allocation).
  let budget = 0;
  for (const { data } of loaded.model.values()) budget += data.length;
  const model = withWeightBudget(budget, file, () => {
    const m = modelFromTopology(json.modelTopology!, file);
    assignWeights(m, loaded);
    return m;
  });
  const training = json.deepnode?.trainingConfig;
  if ((options.compile ?? true) && training) {
    compileFrom(model, training, loaded.optimizer, file);
  }
  return model;
}

/**
 * Set `model`'s weights from a directory written by save/saveWeights (or tfjs), by name, or by
 * position when the layer names differ and deepnode wrote the file. Optimizer state is ignored.
 */
export async function loadWeights(model: Sequential, location: string): Promise<void> {
  checkModel(model, 'loadWeights');
  const loaded = await readModelDir(location);
  const names = new Set(model.weights.map((w) => w.name));
  const byName = [...loaded.model.keys()].every((k) => names.has(k));
  // As Keras's load_weights: a model built again in code may have other auto-generated layer names
  // ('dense_8' for 'dense_2'); then deepnode's files (one layer after another, Keras order) load by
  // position. tfjs files list all trainable weights first, so they load by name only.
  if (!byName && loaded.json.generatedBy.startsWith('deepnode') && loaded.model.size === names.size) {
    const values = [...loaded.model.values()];
    const renamed = new Map(model.weights.map((w, i) => [w.name, values[i]!]));
    assignWeights(model, { ...loaded, model: renamed });
    return;
  }
  assignWeights(model, loaded);
}

function modelFromTopology(topology: Record<string, unknown>, file: string): Sequential {
  // Keras's converter nests the model under model_config (beside training_config).
  const top = (topology.model_config ?? topology) as Record<string, unknown>;
  if (top === null || typeof top !== 'object') throw new IOError(`${file}: modelTopology.model_config must be an object`);
  if (top.class_name !== 'Sequential') {
    throw new IOError(
      `${file}: model class_name ${describe(top.class_name)} is not supported; deepnode loads 'Sequential' models`,
    );
  }
  const config = top.config as Record<string, unknown> | unknown[] | null;
  // Keras 1 / early Keras 2 wrote the layer list as the config itself.
  const specs = Array.isArray(config) ? config : (config?.layers as unknown);
  if (!Array.isArray(specs)) throw new IOError(`${file}: modelTopology config.layers must be an array, received ${describe(specs)}`);
  const name = !Array.isArray(config) && typeof config?.name === 'string' ? config.name : undefined;
  let pendingShape: unknown = undefined;
  const layers: Layer[] = [];
  specs.forEach((s: unknown, i) => {
    const spec = s as SerializedLayer | null;
    if (spec === null || typeof spec !== 'object' || typeof spec.class_name !== 'string') {
      throw new IOError(`${file}: layer ${i} must be { class_name, config }, received ${describe(s)}`);
    }
    const cfg = (spec.config ?? {}) as Record<string, unknown>;
    // Keras 3 (and tf.keras 2 with an explicit Input) list an InputLayer first: its shape goes to the next layer.
    if (spec.class_name === 'InputLayer') {
      pendingShape = cfg.batch_input_shape ?? cfg.batch_shape;
      return;
    }
    const withShape = pendingShape !== undefined && cfg.batch_input_shape === undefined && cfg.batch_shape === undefined
      ? { ...cfg, batch_input_shape: pendingShape }
      : cfg;
    pendingShape = undefined;
    try {
      layers.push(layerFromConfig({ class_name: spec.class_name, config: withShape }));
    } catch (e) {
      throw rethrowWith(e, `${file}: layer ${i} (${spec.class_name} ${describe(cfg.name)})`);
    }
  });
  try {
    return new Sequential(layers, name !== undefined ? { name } : {});
  } catch (e) {
    throw rethrowWith(e, `${file}`);
  }
}

/** The same error class and code with the file (and place) in front of the message. */
function rethrowWith(e: unknown, where: string): Error {
  if (!(e instanceof DeepnodeError)) return e as Error;
  const message = `${where}: ${e.message}`;
  if (e instanceof ShapeError) return new ShapeError(message);
  if (e instanceof IOError) return new IOError(message);
  if (e instanceof StateError) return new StateError(message);
  return new ValueError(message, e.code);
}

/** Copy the file's model weights into the model, by name; every weight must be present, no extra. */
function assignWeights(model: Sequential, loaded: LoadedWeights): void {
  const { file } = loaded;
  const remaining = new Map(loaded.model);
  const missing: string[] = [];
  const perLayer: [Layer, Tensor[]][] = [];
  if (!model.built && remaining.size > 0) {
    throw new IOError(`${file}: the model is not built (no input shape), so its ${remaining.size} weights cannot be set`);
  }
  for (const layer of model.layers) {
    const values: Tensor[] = [];
    layer.weights.forEach((w, index) => {
      // Keras 3's tfjs export names weights by position ('dense/0'), as tfjs-layers accepts.
      const key = remaining.has(w.name) ? w.name : `${layer.name}/${index}`;
      const found = remaining.get(key);
      if (!found) {
        missing.push(w.name);
        return;
      }
      remaining.delete(key);
      values.push(new Tensor(found.data, found.spec.shape));
    });
    perLayer.push([layer, values]);
  }
  if (missing.length > 0) {
    throw new IOError(
      `${file}: ${missing.length} weight(s) of the model are missing from the file: ${missing.join(', ')}` +
        (remaining.size > 0 ? `; the file has instead: ${[...remaining.keys()].join(', ')}` : ''),
    );
  }
  if (remaining.size > 0) {
    throw new IOError(`${file}: the file has weight(s) that no layer of the model has: ${[...remaining.keys()].join(', ')}`);
  }
  // Check every shape before changing any weight.
  for (const [layer, values] of perLayer) {
    layer.weights.forEach((w, i) => {
      const v = values[i]!;
      if (v.shape.length !== w.shape.length || v.shape.some((d, j) => d !== w.shape[j])) {
        throw new ShapeError(`${file}: ${layer.describeSelf()}: weight "${w.name}" has shape [${w.shape}], the file has [${v.shape}]`);
      }
    });
  }
  for (const [layer, values] of perLayer) layer.setWeights(values);
}

// What a load error says when the file names a loss, metric, optimizer or schedule of the user's own.
const OWN_OBJECT_HINT = 'cannot be rebuilt from the file: load with { compile: false } and compile the model yourself';

/** `build()`, whose DeepnodeError gains `where` and the hint that `kind` of the user's own cannot be rebuilt from the file. */
function rebuiltOrOwn<T>(where: string, kind: string, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (!(e instanceof DeepnodeError)) throw e;
    throw new ValueError(`${where}: ${e.message} (${kind} of your own ${OWN_OBJECT_HINT})`, e.code);
  }
}

function compileFrom(model: Sequential, training: TrainingConfig, state: readonly NamedTensor[], file: string): void {
  try {
    if (training === null || typeof training !== 'object') throw new ValueError(`trainingConfig must be an object, received ${describe(training)}`);
    const opt = training.optimizer_config;
    if (opt === null || typeof opt !== 'object' || typeof opt.class_name !== 'string') {
      throw new ValueError(`optimizer_config must be { class_name, config }, received ${describe(opt)}`);
    }
    const optimizer = rebuiltOrOwn('optimizer', 'an optimizer or learning-rate schedule', () => optimizerFromConfig(opt.class_name, opt.config ?? {}));
    const lossSpec = training.loss;
    if (typeof lossSpec === 'object' && lossSpec?.class_name === 'Custom') {
      throw new ValueError(`loss: the model was compiled with a loss of your own (${describe(lossSpec.config?.name)}), which ${OWN_OBJECT_HINT}`);
    }
    let loss: Loss;
    if (typeof lossSpec === 'string') {
      loss = getLoss(lossSpec);
    } else {
      const base = getLoss(lossSpec?.class_name);
      const fromLogits = lossSpec.config?.from_logits === true;
      loss = fromLogits ? new (base.constructor as new (fromLogits: boolean) => Loss)(true) : base;
    }
    const specs: unknown[] = Array.isArray(training.metrics) ? training.metrics : [];
    const metrics = specs.map((m) => rebuiltOrOwn('metrics', 'a metric', () => metricFromSpec(m, loss.name)));
    const weightedSpecs: unknown[] = Array.isArray(training.weighted_metrics) ? training.weighted_metrics : [];
    const weightedMetrics = weightedSpecs.map((m) => rebuiltOrOwn('weighted_metrics', 'a metric', () => metricFromSpec(m, loss.name)));
    model.compile({ optimizer, loss, metrics, weightedMetrics });
    if (state.length > 0) optimizer.setWeights(state);
  } catch (e) {
    throw rethrowWith(e, `${file}: deepnode.trainingConfig`);
  }
}

/** Read model.json and its weight files, validating sizes before reading any weight data. */
async function readModelDir(location: string): Promise<LoadedWeights> {
  if (typeof location !== 'string' || location === '') {
    throw new ValueError(`loadModel: expected the path of a model directory or its model.json, received ${describe(location)}`);
  }
  let target = location.startsWith('file://') ? location.slice('file://'.length) : location;
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new IOError(
      code === 'ENOENT' ? `${target}: no such file or directory; expected a model directory written by model.save()` : wrapIO(e, `reading ${target}`).message,
    );
  }
  if (stat.isDirectory()) target = path.join(target, MODEL_JSON);
  const file = target;
  const dir = path.dirname(file);
  let text: string;
  try {
    const s = await fs.promises.stat(file);
    if (s.size > MAX_MODEL_JSON_BYTES) throw new IOError(`${file}: ${s.size} bytes is too large for a model.json (limit ${MAX_MODEL_JSON_BYTES})`);
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof IOError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new IOError(code === 'ENOENT' ? `${file}: missing; the directory holds no saved model` : wrapIO(e, `reading ${file}`).message);
  }
  const json = parseModelJSON(text, file);

  const model = new Map<string, { spec: WeightSpec; data: Float32Array }>();
  const optimizer: NamedTensor[] = [];
  const root = path.resolve(dir);
  for (const group of json.weightsManifest) {
    const files = group.paths.map((p) => {
      const full = path.resolve(root, p);
      if (full !== root && !full.startsWith(root + path.sep)) throw new IOError(`${file}: refusing weight path ${describe(p)} outside ${root}`);
      return full;
    });
    const expected = group.weights.reduce((n, s) => n + specBytes(s), 0);
    const sizes: number[] = [];
    for (const f of files) {
      try {
        sizes.push((await fs.promises.stat(f)).size);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new IOError(code === 'ENOENT' ? `${f}: weights file named by ${file} is missing` : wrapIO(e, `reading ${f}`).message);
      }
    }
    const actual = sizes.reduce((a, b) => a + b, 0);
    if (actual !== expected) {
      throw new IOError(
        `${files.join(', ')}: ${actual < expected ? 'truncated' : 'corrupted'}: ${actual} bytes, but ${file} describes ` +
          `${expected} bytes (${group.weights.length} weights)`,
      );
    }
    const bytes = new Uint8Array(expected);
    let at = 0;
    for (let i = 0; i < files.length; i++) {
      const handle = await fs.promises.open(files[i]!, 'r').catch((e: unknown) => {
        throw wrapIO(e, `reading ${files[i]}`);
      });
      try {
        const { bytesRead } = await handle.read(bytes, at, sizes[i]!, 0);
        if (bytesRead !== sizes[i]) throw new IOError(`${files[i]}: truncated while reading (${bytesRead} of ${sizes[i]} bytes)`);
      } finally {
        await handle.close();
      }
      at += sizes[i]!;
    }
    const view = new DataView(bytes.buffer);
    let offset = 0;
    for (const spec of group.weights) {
      const n = specBytes(spec) / 4;
      let data: Float32Array;
      if (spec.dtype === 'float32' && LITTLE_ENDIAN) {
        data = new Float32Array(bytes.buffer, offset, n).slice();
      } else {
        data = new Float32Array(n);
        if (spec.dtype === 'int32') for (let i = 0; i < n; i++) data[i] = view.getInt32(offset + 4 * i, true);
        else for (let i = 0; i < n; i++) data[i] = view.getFloat32(offset + 4 * i, true);
      }
      offset += n * 4;
      if (spec.group === 'optimizer') optimizer.push({ name: spec.name, tensor: new Tensor(data, spec.shape) });
      else model.set(spec.name, { spec, data });
    }
  }
  return { json, file, model, optimizer };
}
