/**
 * Low-latency inference, the chapter's guidelines: fold BatchNormalization into Dense layers,
 * quantize Dense weights to float16 or int8 with native kernels that read them directly, and
 * prune small-magnitude weights.
 */
export { foldBatchNorm, foldBatchNormReport } from './fold_batchnorm';
export type { FoldReport, FoldedBatchNorm, KeptBatchNorm } from './fold_batchnorm';
export { quantize, weightBytes, QuantizedDense, QuantizedSequential } from './quantize';
export type { QuantizeDtype, QuantizeOptions, QuantizedDenseArgs } from './quantize';
export { sparsity, prune } from './sparsity';
export type { SparsityReport, LayerSparsity, PruneOptions } from './sparsity';
