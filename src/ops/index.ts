export { matmul, dense } from './linalg';
export { activation, softmax, sigmoid } from './activation';
export { reshape } from './shape';
export { add, sub, mul, mulScalar, square, abs, minimum, maximum, sum, mean } from './arithmetic';
export { sumSquares, sumAbs } from './reductions';
export { prelu, rreluTrain, reluGeneral, softmaxAlong, mish } from './activations_ext';
