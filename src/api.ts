// The four public attention functions. Each one validates and describes its
// arguments once (normalizeAttention), then hands the call to one kernel.
//
// Dimension legend: Q (..., L, E) queries, K (..., S, E) keys, V (..., S, Ev)
// values; "..." are leading batch dims (batch, heads) that broadcast as in
// PyTorch. L and S may differ, and either may be 0.

import { runBackward, type AttentionGradients } from "./attention/backward.js";
import { runMemoryEfficient } from "./attention/memoryEfficient.js";
import { runAttention, type AttentionResult } from "./attention/sdpa.js";
import { runTrace, type AttentionTrace } from "./attention/trace.js";
import {
  normalizeAttention,
  normalizeOutputGradient,
  type AttentionOptions,
  type MaskLike,
  type TensorLike,
} from "./normalize.js";
import type { Tensor } from "./tensor.js";

/**
 * Computes scaled dot-product attention and its weights:
 * `weights = softmax(mask(softcap(Q K^T * scale) + bias))`, `output = weights V`.
 *
 * Q (..., L, E), K (..., S, E) and V (..., S, Ev) are tensors or nested
 * arrays; their leading dims broadcast. `mask` is a keep-mask broadcastable to
 * (..., L, S) (true/1 keeps, false/0 masks), combined by AND with
 * `options.isCausal`, `options.window` and `-Infinity` entries of
 * `options.bias`. The order is scale, softcap, bias, masks, softmax, times V.
 *
 * A query whose every key is masked gets weights 0 and output 0, never NaN.
 * A masked key never influences the output: its weight is exactly 0 and its
 * row of V is never added, so NaN or Infinity stored there cannot leak.
 *
 * @example
 * const Q = randn([2, 4, 8], { seed: 1 }); // (batch 2, L 4, E 8)
 * const K = randn([2, 6, 8], { seed: 2 }); // (batch 2, S 6, E 8)
 * const V = randn([2, 6, 3], { seed: 3 }); // (batch 2, S 6, Ev 3)
 * const { output, weights } = scaledDotProductAttention(Q, K, V, null, { isCausal: true });
 * // output.shape = [2, 4, 3], weights.shape = [2, 4, 6]
 *
 * @returns `output` (..., L, Ev) and `weights` (..., L, S), in the inputs' dtype.
 * @throws {TypeError} when Q, K, V, mask or an option is the wrong kind of value, an option name is unknown, or tensor dtypes differ.
 * @throws {RangeError} when Q, K or V has fewer than 2 dims.
 * @throws {RangeError} when E of Q and K differ, or S of K and V differ.
 * @throws {RangeError} when the leading dims of Q, K and V do not broadcast.
 * @throws {RangeError} when mask or options.bias does not broadcast to (..., L, S).
 * @throws {RangeError} when a numeric mask holds a value other than 0 or 1 (an additive mask belongs in options.bias).
 * @throws {RangeError} when nested arrays are ragged.
 * @throws {RangeError} when options.scale or options.softcap is not a finite number > 0, or E is 0 and no scale is given.
 * @throws {RangeError} when an options.window entry is not an integer >= 0 or null.
 * @throws {RangeError} when options.alignment is not "upper-left" or "lower-right".
 * @throws {RangeError} when options.bias holds NaN or +Infinity.
 */
export function scaledDotProductAttention(
  Q: TensorLike,
  K: TensorLike,
  V: TensorLike,
  mask?: MaskLike | null,
  options?: AttentionOptions,
): AttentionResult {
  const call = normalizeAttention("scaledDotProductAttention", Q, K, V, mask, options);
  return runAttention(call);
}

/**
 * Computes the same output as {@link scaledDotProductAttention} without ever
 * allocating an L x S buffer: each query walks the keys in blocks with an
 * online softmax (a running maximum and sum). Extra memory is O(block + Ev)
 * beyond the inputs and the output (..., L, Ev). Key blocks outside a causal
 * or window band are skipped.
 *
 * @example
 * const Q = randn([1, 2048, 64], { seed: 1 });
 * const out = memoryEfficientAttention(Q, Q, Q, null, { isCausal: true }); // [1, 2048, 64]
 *
 * @returns `output` (..., L, Ev) in the inputs' dtype.
 * @throws {TypeError} and {RangeError} for the same inputs as scaledDotProductAttention.
 */
export function memoryEfficientAttention(
  Q: TensorLike,
  K: TensorLike,
  V: TensorLike,
  mask?: MaskLike | null,
  options?: AttentionOptions,
): Tensor {
  const call = normalizeAttention("memoryEfficientAttention", Q, K, V, mask, options);
  return runMemoryEfficient(call);
}

/**
 * Runs attention and returns every intermediate step, for teaching and
 * debugging: `scores` (Q K^T), `scaled` (after scale and softcap), `masked`
 * (after bias and masks, -Infinity where masked), `keep` (1 kept, 0 masked),
 * `weights` and `output`. All steps but `output` (..., L, Ev) are (..., L, S).
 *
 * @example
 * const t = traceAttention([[1, 0]], [[1, 0], [0, 1]], [[1], [2]], [[true, false]]);
 * t.masked.toArray(); // [[0.7071..., -Infinity]]
 *
 * @throws {TypeError} and {RangeError} for the same inputs as scaledDotProductAttention.
 */
export function traceAttention(
  Q: TensorLike,
  K: TensorLike,
  V: TensorLike,
  mask?: MaskLike | null,
  options?: AttentionOptions,
): AttentionTrace {
  const call = normalizeAttention("traceAttention", Q, K, V, mask, options);
  return runTrace(call);
}

/**
 * Computes the gradients of `sum(output * dOutput)` with respect to Q, K and
 * V for the attention that {@link scaledDotProductAttention} computes with the
 * same arguments. Gradients have the shapes of Q, K and V; where an input was
 * broadcast, its gradient is summed over the broadcast dims. A fully masked
 * query row and a masked key get zero gradient, never NaN.
 *
 * @example
 * const Q = randn([3, 4], { seed: 1 }), K = randn([5, 4], { seed: 2 }), V = randn([5, 2], { seed: 3 });
 * const dOutput = randn([3, 2], { seed: 4 });
 * const { dQ, dK, dV } = attentionBackward(Q, K, V, dOutput); // shapes [3, 4], [5, 4], [5, 2]
 *
 * @throws {TypeError} and {RangeError} for the same inputs as scaledDotProductAttention.
 * @throws {RangeError} when dOutput's shape is not the output's (..., L, Ev).
 * @throws {TypeError} when dOutput is a tensor of another dtype.
 */
export function attentionBackward(
  Q: TensorLike,
  K: TensorLike,
  V: TensorLike,
  dOutput: TensorLike,
  mask?: MaskLike | null,
  options?: AttentionOptions,
): AttentionGradients {
  const call = normalizeAttention("attentionBackward", Q, K, V, mask, options, dOutput);
  const dOut = normalizeOutputGradient(call, dOutput);
  return runBackward(call, dOut);
}
