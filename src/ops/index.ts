export { matmul, dense } from './linalg';
export { activation, softmax, sigmoid } from './activation';
export { reshape } from './shape';
export { add, mul, mulScalar, sum, mean } from './arithmetic';
