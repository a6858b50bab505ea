/** Datasets: loaders that return tensors, and the IDX file format they are stored in. */
export * as fashionMnist from './fashion_mnist';
export { decodeIdx, encodeIdx, isGzip, loadIdx, loadIdxSync, writeIdx } from './idx';
export type { IdxArray, IdxReadOptions, IdxWriteOptions } from './idx';
