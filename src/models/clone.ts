/**
 * `cloneModel`: the same architecture with new layers and freshly initialised weights, as Keras's
 * `clone_model`. Reusing a model's layers in another model shares them (training one trains both);
 * a clone shares nothing. Copy weights with `clone.setWeights(model.getWeights())`.
 */
import { Sequential } from './sequential';
import { layerFromConfig, serializeLayer } from '../layers/serialization';
import '../layers'; // every layer class registers itself for layerFromConfig
import { ValueError, describe } from '../errors';

/** A new Sequential with the same architecture (layers rebuilt from their configs) and freshly initialised weights. Keras: `keras.models.clone_model`. */
export function cloneModel(model: Sequential): Sequential {
  if (!(model instanceof Sequential)) {
    throw new ValueError(`cloneModel: expected a Sequential model, received ${describe(model)}`);
  }
  const clone = new Sequential(model.layers.map((layer) => layerFromConfig(serializeLayer(layer))), { name: model.name });
  if (model.inputShape && !clone.built) clone.build(model.inputShape);
  return clone;
}
