// dotattn: scaled dot-product attention from scratch.
//
// Dimension legend used throughout: Q (..., L, E) queries, K (..., S, E) keys,
// V (..., S, Ev) values, with leading batch dims "..." that broadcast.

export { Tensor, tensor, zeros, randn } from "./tensor.js";
export type { DType, TensorData, TensorOptions } from "./tensor.js";
export type { NestedNumberArray, NestedBooleanArray } from "./nested.js";
export { matmul, softmax } from "./ops.js";
export {
  scaledDotProductAttention,
  memoryEfficientAttention,
  traceAttention,
  attentionBackward,
} from "./api.js";
export type { AttentionOptions, Alignment, MaskLike, TensorLike } from "./normalize.js";
export type { AttentionResult } from "./attention/sdpa.js";
export type { AttentionTrace } from "./attention/trace.js";
export type { AttentionGradients } from "./attention/backward.js";
export * from "./multihead.js";
