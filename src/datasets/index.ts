/** Datasets: loaders that return tensors, the IDX file format they are stored in, and helpers that turn arrays or CSV files into train/test tensors. */
export * as fashionMnist from './fashion_mnist';
export * as mnist from './mnist';
export { decodeIdx, encodeIdx, isGzip, loadIdx, loadIdxSync, writeIdx } from './idx';
export type { IdxArray, IdxReadOptions, IdxWriteOptions } from './idx';
export { fromArrays, toCategorical, trainTestSplit } from './arrays';
export type { ArrayDataset, ArrayInput, FromArraysOptions, LabelInput, TrainTestSplit, TrainTestSplitOptions } from './arrays';
export { StandardScaler, standardScaler } from './standard_scaler';
export type { StandardScalerOptions } from './standard_scaler';
export { csvToTensors, fromCsv } from './csv';
export type { CsvDataset, FromCsvOptions } from './csv';
export { defaultCacheDir } from './idx_dataset';
export type { Checksums, CommonLoadOptions, IdxFile, ImageDataset, Split } from './idx_dataset';
