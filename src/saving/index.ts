/**
 * Saving and loading models in the TensorFlow.js layers format (model.json + binary weights), which
 * `tf.loadLayersModel` reads; `loadModel` also reads models saved by tfjs.
 */
export { saveModel, saveWeights, loadModel, loadWeights } from './model_io';
export type { SaveOptions, SaveResult, LoadOptions } from './model_io';
export { LAYERS_MODEL_FORMAT, DEEPNODE_FORMAT_VERSION, parseModelJSON } from './format';
export type { ModelJSON, WeightSpec, WeightsManifestGroup, TrainingConfig, DeepnodeSection } from './format';
