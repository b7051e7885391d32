// Multi-head attention on top of scaledDotProductAttention: project, split the
// heads into a batch dim, attend, concatenate, project back.
//
// Dimension legend: N batch, L queries, S keys, E = embedDim, H query heads,
// Hkv key/value heads (H for plain multi-head, fewer for grouped-query),
// G = H / Hkv query heads per key/value head, Dh = E / H features per head.

import { memoryEfficientAttention, scaledDotProductAttention } from "./api.js";
import { formatShape, formatValue } from "./format.js";
import { linearKernel } from "./model/ops.js";
import type { MaskLike, TensorLike } from "./normalize.js";
import { Tensor, allocate, randn, tensor, type DType, type TensorData } from "./tensor.js";

/** Settings of a {@link MultiHeadAttention}. */
export interface MultiHeadAttentionOptions {
  /** Model width E: the feature size of query, key, value and output. */
  embedDim: number;
  /** Number of query heads H; must divide embedDim. */
  numHeads: number;
  /**
   * Number of key/value heads Hkv (grouped-query attention); must divide
   * numHeads. Query head h uses key/value head floor(h / (H / Hkv)), as
   * `repeat_interleave` in PyTorch's `enable_gqa`. Default numHeads.
   */
  numKeyValueHeads?: number;
  /** Add biases to the four projections. Default true. */
  bias?: boolean;
  /** Seed of the initial weights (an integer in [0, 2^32)). Default 0. */
  seed?: number;
  /** Element type of weights and results. Default "float64". */
  dtype?: DType;
}

/**
 * A PyTorch-style state dict: parameter name to a tensor or nested arrays.
 * See {@link MultiHeadAttention.loadStateDict} for the accepted names.
 */
export type MultiHeadAttentionStateDict = Readonly<Record<string, TensorLike>>;

/** Options of {@link MultiHeadAttention.loadStateDict} and {@link MultiHeadAttention.fromStateDict}. */
export interface LoadStateDictOptions {
  /** Prefix before every name, such as "encoder.layer.0.attention.". Default "". */
  prefix?: string;
}

/** Options of {@link MultiHeadAttention.forward}. */
export interface MultiHeadForwardOptions {
  /**
   * Keep-mask (true/1 keeps) broadcastable to (N, H, L, S), or to (H, L, S)
   * for unbatched inputs. An (L, S) mask applies to every batch entry and head.
   * PyTorch's boolean `attn_mask` has the opposite sense (true masks).
   */
  mask?: MaskLike | null;
  /**
   * Keys to keep, (N, S), or (S) unbatched: 1/true for real tokens, 0/false
   * for padding, as Hugging Face's `attention_mask`. The inverse of
   * PyTorch's `key_padding_mask`.
   */
  keyMask?: MaskLike | null;
  /** Query i sees key j only when j <= i (upper-left alignment). */
  isCausal?: boolean;
  /** Return the attention weights. Default true; false uses memory-efficient attention. */
  needWeights?: boolean;
  /** Average the weights over heads: (N, L, S) in place of (N, H, L, S). Default false. */
  averageWeights?: boolean;
}

/** Result of {@link MultiHeadAttention.forward}. */
export interface MultiHeadAttentionResult {
  /** (N, L, E), or (L, E) for unbatched inputs. */
  output: Tensor;
  /** (N, H, L, S) per head, (N, L, S) averaged, without N when unbatched; null when needWeights is false. */
  weights: Tensor | null;
}

// Set by fromStateDict while it constructs a module whose weights it replaces at once.
let skipRandomInitialisation = false;

const FORWARD_OPTION_NAMES = new Set([
  "mask",
  "keyMask",
  "isCausal",
  "needWeights",
  "averageWeights",
]);
const CONSTRUCTOR_OPTION_NAMES = new Set([
  "embedDim",
  "numHeads",
  "numKeyValueHeads",
  "bias",
  "seed",
  "dtype",
]);

/**
 * Multi-head attention: `output = concat(head_1..head_H) W_o^T + b_o` with
 * `head_h = attention(q W_q,h^T + b_q,h, k W_k,g^T + b_k,g, v W_v,g^T + b_v,g)`
 * and g the key/value head of query head h. The heads run as a batch dim of
 * {@link scaledDotProductAttention}, with scale 1/sqrt(Dh).
 *
 * Differences from `torch.nn.MultiheadAttention`: there is no dropout
 * (inference only), masks are keep-masks, and key and value must have feature
 * size E. A query whose every key is masked gets weights 0, so its output is
 * the output projection's bias, where PyTorch gives NaN.
 *
 * @example
 * const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 1 });
 * const x = randn([2, 5, 8], { seed: 2 }); // (N 2, L 5, E 8)
 * const { output, weights } = mha.forward(x, x, x, { isCausal: true });
 * // output.shape = [2, 5, 8], weights!.shape = [2, 2, 5, 5]
 */
export class MultiHeadAttention {
  /** Model width E. */
  readonly embedDim: number;
  /** Query heads H. */
  readonly numHeads: number;
  /** Key/value heads Hkv. */
  readonly numKeyValueHeads: number;
  /** Features per head, Dh = E / H. */
  readonly headDim: number;
  /** Whether the projections have biases. */
  readonly bias: boolean;
  /** Element type of weights and results. */
  readonly dtype: DType;
  /** Query projection weight, (H * Dh, E). */
  queryWeight: Tensor;
  /** Key projection weight, (Hkv * Dh, E). */
  keyWeight: Tensor;
  /** Value projection weight, (Hkv * Dh, E). */
  valueWeight: Tensor;
  /** Output projection weight, (E, H * Dh). */
  outputWeight: Tensor;
  /** Biases of the four projections, or null when `bias` is false. */
  queryBias: Tensor | null;
  keyBias: Tensor | null;
  valueBias: Tensor | null;
  outputBias: Tensor | null;

  /**
   * Creates the module with Xavier-normal weights, `N(0, 2 / (fan_in + fan_out))`,
   * drawn from `randn` with `options.seed`, and zero biases (as PyTorch
   * initialises its biases).
   *
   * @throws {TypeError} when options is not an object, has an unknown name, or a value has the wrong type.
   * @throws {RangeError} when embedDim or numHeads is not an integer >= 1, numHeads does not divide embedDim,
   *   numKeyValueHeads does not divide numHeads, or the seed is not an integer in [0, 2^32).
   */
  constructor(options: MultiHeadAttentionOptions) {
    const where = "MultiHeadAttention";
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        `${where}: options is ${formatValue(options)}; expected an object with embedDim and numHeads`,
      );
    }
    for (const name of Object.keys(options)) {
      if (!CONSTRUCTOR_OPTION_NAMES.has(name)) {
        throw new TypeError(
          `${where}: options.${name} is not an option; expected one of ${[...CONSTRUCTOR_OPTION_NAMES].join(", ")}`,
        );
      }
    }
    const embedDim = checkCount(options.embedDim, where, "options.embedDim");
    const numHeads = checkCount(options.numHeads, where, "options.numHeads");
    const numKeyValueHeads = checkCount(
      options.numKeyValueHeads ?? numHeads,
      where,
      "options.numKeyValueHeads",
    );
    if (embedDim % numHeads !== 0) {
      throw new RangeError(
        `${where}: options.numHeads is ${numHeads}, which does not divide options.embedDim ${embedDim}; ` +
          `expected embedDim to be a multiple of numHeads`,
      );
    }
    if (numHeads % numKeyValueHeads !== 0) {
      throw new RangeError(
        `${where}: options.numKeyValueHeads is ${numKeyValueHeads}, which does not divide options.numHeads ` +
          `${numHeads}; expected a divisor of numHeads (numHeads itself for plain multi-head attention)`,
      );
    }
    const bias = options.bias ?? true;
    if (typeof bias !== "boolean")
      throw new TypeError(`${where}: options.bias is ${formatValue(bias)}; expected true or false`);
    const dtype = options.dtype ?? "float64";
    if (dtype !== "float64" && dtype !== "float32") {
      throw new TypeError(
        `${where}: options.dtype is ${formatValue(dtype)}; expected "float64" or "float32"`,
      );
    }
    const seed = options.seed ?? 0;
    if (typeof seed !== "number")
      throw new TypeError(
        `${where}: options.seed is ${formatValue(seed)}; expected an integer in [0, 2^32)`,
      );
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
      throw new RangeError(
        `${where}: options.seed is ${formatValue(seed)}; expected an integer in [0, 2^32)`,
      );
    }

    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.numKeyValueHeads = numKeyValueHeads;
    this.headDim = embedDim / numHeads;
    this.bias = bias;
    this.dtype = dtype;

    // One seeded draw, cut into the four weights, so that each seed gives one set of parameters.
    const kvDim = numKeyValueHeads * this.headDim;
    const sizes = [embedDim * embedDim, kvDim * embedDim, kvDim * embedDim, embedDim * embedDim];
    const total = sizes.reduce((a, b) => a + b, 0);
    const draw = skipRandomInitialisation
      ? new Float64Array(total)
      : randn([total], { seed, dtype: "float64" }).contiguous().data;
    let cursor = 0;
    const xavier = (rows: number, columns: number): Tensor => {
      const std = Math.sqrt(2 / (rows + columns));
      const data = allocate(dtype, rows * columns);
      for (let i = 0; i < data.length; i++) data[i] = draw[cursor + i] * std;
      cursor += data.length;
      return new Tensor(data, [rows, columns]);
    };
    this.queryWeight = xavier(embedDim, embedDim);
    this.keyWeight = xavier(kvDim, embedDim);
    this.valueWeight = xavier(kvDim, embedDim);
    this.outputWeight = xavier(embedDim, embedDim);
    const zeroBias = (n: number): Tensor | null =>
      bias ? new Tensor(allocate(dtype, n), [n]) : null;
    this.queryBias = zeroBias(embedDim);
    this.keyBias = zeroBias(kvDim);
    this.valueBias = zeroBias(kvDim);
    this.outputBias = zeroBias(embedDim);
  }

  /** Number of parameters: the four weights and, with bias, the four biases. */
  get parameterCount(): number {
    const kvDim = this.numKeyValueHeads * this.headDim;
    const weights = 2 * this.embedDim * this.embedDim + 2 * kvDim * this.embedDim;
    return weights + (this.bias ? 2 * this.embedDim + 2 * kvDim : 0);
  }

  /**
   * Creates a module from a state dict, taking embedDim, bias and (for the
   * BERT names) the number of key/value heads from the tensors' shapes. See
   * {@link MultiHeadAttention.loadStateDict} for the names.
   *
   * @throws {TypeError} when an argument has the wrong type.
   * @throws {RangeError} when a needed name is missing or a shape does not fit.
   */
  static fromStateDict(
    stateDict: MultiHeadAttentionStateDict,
    options: { numHeads: number; dtype?: DType } & LoadStateDictOptions,
  ): MultiHeadAttention {
    const where = "MultiHeadAttention.fromStateDict";
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        `${where}: options is ${formatValue(options)}; expected an object with numHeads`,
      );
    }
    const prefix = checkPrefix(options.prefix, where);
    const layout = detectLayout(checkStateDict(stateDict, where), prefix, where);
    const shapeOf = (name: string): number[] =>
      toTensor(
        stateDict[name],
        where,
        `stateDict[${JSON.stringify(name)}]`,
        "float64",
      ).shape.slice();
    const outShape = shapeOf(layout.outputWeight);
    if (outShape.length !== 2) {
      throw new RangeError(
        `${where}: stateDict[${JSON.stringify(layout.outputWeight)}] has shape ${formatShape(outShape)}; expected (E, E)`,
      );
    }
    const embedDim = outShape[0];
    const numHeads = checkCount(options.numHeads, where, "options.numHeads");
    let numKeyValueHeads = numHeads;
    if (layout.kind !== "torch-packed") {
      const kvRows = shapeOf(layout.keyWeight)[0];
      const headDim = embedDim / numHeads;
      numKeyValueHeads = Number.isInteger(headDim) ? kvRows / headDim : numHeads;
    }
    skipRandomInitialisation = true;
    let module: MultiHeadAttention;
    try {
      module = new MultiHeadAttention({
        embedDim,
        numHeads,
        numKeyValueHeads:
          Number.isInteger(numKeyValueHeads) && numKeyValueHeads >= 1 ? numKeyValueHeads : numHeads,
        bias: layout.outputBias in stateDict,
        dtype: options.dtype ?? "float64",
      });
    } finally {
      skipRandomInitialisation = false;
    }
    return module.loadStateDict(stateDict, { prefix });
  }

  /**
   * Replaces the parameters with those of a PyTorch state dict and returns
   * this module. Two layouts are recognised, after `options.prefix`:
   *
   * - `torch.nn.MultiheadAttention`: `in_proj_weight` (3E, E) (or
   *   `q_proj_weight`, `k_proj_weight`, `v_proj_weight`), `in_proj_bias` (3E),
   *   `out_proj.weight` (E, E), `out_proj.bias` (E);
   * - BERT self-attention: `query`, `key`, `value` (each `.weight` and
   *   `.bias`, optionally under `self.`), `output.dense.weight` and
   *   `output.dense.bias`. Key and value have Hkv * Dh rows.
   *
   * Other names are ignored (BERT's `output.LayerNorm` belongs to the block,
   * not to attention). Values are converted to the module's dtype.
   *
   * @throws {TypeError} when stateDict is not an object or a value is not a tensor or nested arrays.
   * @throws {RangeError} when a name is missing, a shape differs from the module's, or biases are present
   *   or absent against the module's `bias` setting.
   */
  loadStateDict(stateDict: MultiHeadAttentionStateDict, options: LoadStateDictOptions = {}): this {
    const where = "MultiHeadAttention.loadStateDict";
    if (options === null || typeof options !== "object") {
      throw new TypeError(`${where}: options is ${formatValue(options)}; expected an object`);
    }
    const prefix = checkPrefix(options.prefix, where);
    const dict = checkStateDict(stateDict, where);
    const layout = detectLayout(dict, prefix, where);
    const E = this.embedDim;
    const kvDim = this.numKeyValueHeads * this.headDim;

    const read = (name: string, shape: number[], meaning: string): Tensor => {
      if (!(name in dict)) {
        throw new RangeError(
          `${where}: stateDict has no ${JSON.stringify(name)}; expected ${meaning} of shape ${formatShape(shape)}`,
        );
      }
      const value = toTensor(
        dict[name],
        where,
        `stateDict[${JSON.stringify(name)}]`,
        this.dtype,
        true,
      );
      if (value.shape.length !== shape.length || value.shape.some((d, i) => d !== shape[i])) {
        throw new RangeError(
          `${where}: stateDict[${JSON.stringify(name)}] has shape ${formatShape(value.shape)}; expected ` +
            `${formatShape(shape)} (${meaning}) for embedDim ${E}, numHeads ${this.numHeads}, ` +
            `numKeyValueHeads ${this.numKeyValueHeads}`,
        );
      }
      return value.contiguous();
    };
    const biasNames = [layout.queryBias, layout.keyBias, layout.valueBias, layout.outputBias];
    const present = biasNames.filter((name) => name in dict);
    if (this.bias && present.length < new Set(biasNames).size) {
      const missing = biasNames.find((name) => !(name in dict))!;
      throw new RangeError(
        `${where}: stateDict has no ${JSON.stringify(missing)}; expected biases because the module has bias: true`,
      );
    }
    if (!this.bias && present.length > 0) {
      throw new RangeError(
        `${where}: stateDict has ${JSON.stringify(present[0])}, but the module has bias: false; ` +
          `create it with bias: true or use MultiHeadAttention.fromStateDict`,
      );
    }

    const slice = (t: Tensor, begin: number, end: number, columns: number): Tensor =>
      new Tensor(
        t.data.slice(begin * columns, end * columns),
        columns === 1 ? [end - begin] : [end - begin, columns],
      );
    if (layout.kind === "torch-packed") {
      if (this.numKeyValueHeads !== this.numHeads) {
        throw new RangeError(
          `${where}: ${JSON.stringify(layout.queryWeight)} packs full-size key and value projections, but the module ` +
            `has numKeyValueHeads ${this.numKeyValueHeads} < numHeads ${this.numHeads}; expected the BERT names for grouped-query weights`,
        );
      }
      const packed = read(layout.queryWeight, [3 * E, E], "query, key and value weights stacked");
      this.queryWeight = slice(packed, 0, E, E);
      this.keyWeight = slice(packed, E, 2 * E, E);
      this.valueWeight = slice(packed, 2 * E, 3 * E, E);
      if (this.bias) {
        const packedBias = read(layout.queryBias, [3 * E], "query, key and value biases stacked");
        this.queryBias = slice(packedBias, 0, E, 1);
        this.keyBias = slice(packedBias, E, 2 * E, 1);
        this.valueBias = slice(packedBias, 2 * E, 3 * E, 1);
      }
    } else {
      this.queryWeight = read(layout.queryWeight, [E, E], "query weight (H * Dh, E)");
      this.keyWeight = read(layout.keyWeight, [kvDim, E], "key weight (Hkv * Dh, E)");
      this.valueWeight = read(layout.valueWeight, [kvDim, E], "value weight (Hkv * Dh, E)");
      if (this.bias) {
        if (layout.kind === "torch-separate") {
          const packedBias = read(layout.queryBias, [3 * E], "query, key and value biases stacked");
          this.queryBias = slice(packedBias, 0, E, 1);
          this.keyBias = slice(packedBias, E, 2 * E, 1);
          this.valueBias = slice(packedBias, 2 * E, 3 * E, 1);
        } else {
          this.queryBias = read(layout.queryBias, [E], "query bias (H * Dh)");
          this.keyBias = read(layout.keyBias, [kvDim], "key bias (Hkv * Dh)");
          this.valueBias = read(layout.valueBias, [kvDim], "value bias (Hkv * Dh)");
        }
      }
    }
    this.outputWeight = read(layout.outputWeight, [E, E], "output weight (E, H * Dh)");
    if (this.bias) this.outputBias = read(layout.outputBias, [E], "output bias (E)");
    return this;
  }

  /**
   * Runs multi-head attention.
   *
   * @param query (N, L, E), or (L, E) unbatched.
   * @param key (N, S, E), or (S, E) unbatched.
   * @param value (N, S, E), or (S, E) unbatched.
   * @returns `output` (N, L, E) and `weights` (N, H, L, S) per head, (N, L, S)
   *   with `averageWeights`, null with `needWeights: false`; N is dropped for unbatched inputs.
   * @throws {TypeError} when an input is not a tensor or nested arrays, a tensor's dtype differs from the module's,
   *   options is not an object, an option name is unknown or an option has the wrong type.
   * @throws {RangeError} when query is not 2-d or 3-d, key or value differ from it in dims or batch size,
   *   a feature size is not E, key and value differ in S, or a mask does not broadcast or contains values other than 0 and 1.
   */
  forward(
    query: TensorLike,
    key: TensorLike,
    value: TensorLike,
    options: MultiHeadForwardOptions = {},
  ): MultiHeadAttentionResult {
    const where = "MultiHeadAttention.forward";
    const opts = checkForwardOptions(options, where);
    const q = toTensor(query, where, "query", this.dtype, true);
    const k = toTensor(key, where, "key", this.dtype, true);
    const v = toTensor(value, where, "value", this.dtype, true);
    if (q.ndim !== 2 && q.ndim !== 3) {
      throw new RangeError(
        `${where}: query has shape ${formatShape(q.shape)}; expected (N, L, E) or unbatched (L, E)`,
      );
    }
    const batched = q.ndim === 3;
    const expectDims = batched ? "(N, S, E) like query (N, L, E)" : "(S, E) like query (L, E)";
    for (const [name, t] of [
      ["key", k],
      ["value", v],
    ] as const) {
      if (t.ndim !== q.ndim)
        throw new RangeError(
          `${where}: ${name} has shape ${formatShape(t.shape)}; expected ${expectDims}`,
        );
    }
    const q3 = batched ? q : q.reshape([1, ...q.shape]);
    const k3 = batched ? k : k.reshape([1, ...k.shape]);
    const v3 = batched ? v : v.reshape([1, ...v.shape]);
    const [N, L, Eq] = q3.shape;
    const [Nk, S, Ek] = k3.shape;
    const [Nv, Sv, Ev] = v3.shape;
    const E = this.embedDim;
    if (Nk !== N || Nv !== N) {
      throw new RangeError(
        `${where}: query ${formatShape(q.shape)}, key ${formatShape(k.shape)} and value ${formatShape(v.shape)} ` +
          `have batch sizes ${N}, ${Nk}, ${Nv}; expected the same N`,
      );
    }
    for (const [name, t, size] of [
      ["query", q, Eq],
      ["key", k, Ek],
      ["value", v, Ev],
    ] as const) {
      if (size !== E) {
        throw new RangeError(
          `${where}: ${name} has shape ${formatShape(t.shape)}; expected its last dim to be embedDim ${E}`,
        );
      }
    }
    if (Sv !== S) {
      throw new RangeError(
        `${where}: key ${formatShape(k.shape)} and value ${formatShape(v.shape)} differ in S; expected the same S`,
      );
    }
    const H = this.numHeads;
    const Hkv = this.numKeyValueHeads;
    const G = H / Hkv;
    const Dh = this.headDim;
    const keep = buildKeepMask(opts.mask, opts.keyMask, batched, N, H, L, S, where);

    // Projections, then heads as a batch dim: (N, H, L, Dh) and (N, Hkv, S, Dh).
    const qHeads = projectHeads(q3, this.queryWeight, this.queryBias, H, Dh, this.dtype);
    const kHeads = projectHeads(k3, this.keyWeight, this.keyBias, Hkv, Dh, this.dtype);
    const vHeads = projectHeads(v3, this.valueWeight, this.valueBias, Hkv, Dh, this.dtype);

    // Grouped-query: query heads (N, Hkv, G, L, Dh) broadcast against key/value heads (N, Hkv, 1, S, Dh).
    const Q = qHeads.reshape([N, Hkv, G, L, Dh]);
    const K = kHeads.reshape([N, Hkv, 1, S, Dh]);
    const V = vHeads.reshape([N, Hkv, 1, S, Dh]);
    const mask =
      keep === null
        ? null
        : keep.tensor.reshape(keep.perHead ? [N, Hkv, G, L, S] : [N, 1, 1, L, S]);
    const attentionOptions = { isCausal: opts.isCausal };
    let attended: Tensor;
    let weights: Tensor | null = null;
    if (opts.needWeights) {
      const result = scaledDotProductAttention(Q, K, V, mask, attentionOptions);
      attended = result.output;
      weights = result.weights.reshape([N, H, L, S]);
      if (opts.averageWeights) weights = averageHeads(weights, N, H, L, S);
      if (!batched) weights = weights.reshape(weights.shape.slice(1));
    } else {
      attended = memoryEfficientAttention(Q, K, V, mask, attentionOptions);
    }

    // Concatenate the heads, (N, H, L, Dh) -> (N, L, H * Dh), and project back to E.
    const heads = attended.contiguous().data;
    const concat = allocate(this.dtype, N * L * E);
    for (let n = 0; n < N; n++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < L; i++) {
          const from = ((n * H + h) * L + i) * Dh;
          concat.set(heads.subarray(from, from + Dh), (n * L + i) * E + h * Dh);
        }
      }
    }
    const out = allocate(this.dtype, N * L * E);
    linearKernel(concat, N * L, E, this.outputWeight.data, this.outputBias?.data ?? null, E, out);
    const output = new Tensor(out, batched ? [N, L, E] : [L, E]);
    return { output, weights };
  }
}

interface Layout {
  kind: "torch-packed" | "torch-separate" | "bert";
  queryWeight: string;
  keyWeight: string;
  valueWeight: string;
  outputWeight: string;
  queryBias: string;
  keyBias: string;
  valueBias: string;
  outputBias: string;
}

function detectLayout(dict: MultiHeadAttentionStateDict, prefix: string, where: string): Layout {
  const p = prefix;
  if (`${p}in_proj_weight` in dict || `${p}q_proj_weight` in dict) {
    const packed = `${p}in_proj_weight` in dict;
    return {
      kind: packed ? "torch-packed" : "torch-separate",
      queryWeight: packed ? `${p}in_proj_weight` : `${p}q_proj_weight`,
      keyWeight: packed ? `${p}in_proj_weight` : `${p}k_proj_weight`,
      valueWeight: packed ? `${p}in_proj_weight` : `${p}v_proj_weight`,
      outputWeight: `${p}out_proj.weight`,
      queryBias: `${p}in_proj_bias`,
      keyBias: `${p}in_proj_bias`,
      valueBias: `${p}in_proj_bias`,
      outputBias: `${p}out_proj.bias`,
    };
  }
  for (const inner of ["", "self."]) {
    if (`${p}${inner}query.weight` in dict) {
      const q = `${p}${inner}`;
      return {
        kind: "bert",
        queryWeight: `${q}query.weight`,
        keyWeight: `${q}key.weight`,
        valueWeight: `${q}value.weight`,
        outputWeight: `${p}output.dense.weight`,
        queryBias: `${q}query.bias`,
        keyBias: `${q}key.bias`,
        valueBias: `${q}value.bias`,
        outputBias: `${p}output.dense.bias`,
      };
    }
  }
  const names = Object.keys(dict);
  throw new RangeError(
    `${where}: stateDict has neither ${JSON.stringify(p + "in_proj_weight")} (torch.nn.MultiheadAttention) nor ` +
      `${JSON.stringify(p + "query.weight")} or ${JSON.stringify(p + "self.query.weight")} (BERT); it has ` +
      `${names.length} names, such as ${JSON.stringify(names.slice(0, 3))}; check options.prefix`,
  );
}

function checkStateDict(stateDict: unknown, where: string): MultiHeadAttentionStateDict {
  if (
    stateDict === null ||
    typeof stateDict !== "object" ||
    Array.isArray(stateDict) ||
    stateDict instanceof Tensor
  ) {
    throw new TypeError(
      `${where}: stateDict is ${formatValue(stateDict)}; expected an object of parameter name to tensor`,
    );
  }
  return stateDict as MultiHeadAttentionStateDict;
}

function checkPrefix(prefix: unknown, where: string): string {
  if (prefix === undefined) return "";
  if (typeof prefix !== "string")
    throw new TypeError(`${where}: options.prefix is ${formatValue(prefix)}; expected a string`);
  return prefix;
}

function checkCount(value: unknown, where: string, name: string): number {
  if (typeof value !== "number")
    throw new TypeError(`${where}: ${name} is ${formatValue(value)}; expected an integer >= 1`);
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${where}: ${name} is ${formatValue(value)}; expected an integer >= 1`);
  return value;
}

interface ForwardSettings {
  mask: MaskLike | null;
  keyMask: MaskLike | null;
  isCausal: boolean;
  needWeights: boolean;
  averageWeights: boolean;
}

function checkForwardOptions(options: unknown, where: string): ForwardSettings {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`${where}: options is ${formatValue(options)}; expected an object`);
  }
  const o = options as MultiHeadForwardOptions;
  for (const name of Object.keys(o)) {
    if (!FORWARD_OPTION_NAMES.has(name)) {
      throw new TypeError(
        `${where}: options.${name} is not an option; expected one of ${[...FORWARD_OPTION_NAMES].join(", ")}`,
      );
    }
  }
  const flag = (
    name: "isCausal" | "needWeights" | "averageWeights",
    fallback: boolean,
  ): boolean => {
    const value = o[name] ?? fallback;
    if (typeof value !== "boolean")
      throw new TypeError(
        `${where}: options.${name} is ${formatValue(value)}; expected true or false`,
      );
    return value;
  };
  const settings = {
    mask: o.mask ?? null,
    keyMask: o.keyMask ?? null,
    isCausal: flag("isCausal", false),
    needWeights: flag("needWeights", true),
    averageWeights: flag("averageWeights", false),
  };
  if (settings.averageWeights && !settings.needWeights) {
    throw new RangeError(
      `${where}: options.averageWeights is true but options.needWeights is false; expected needWeights: true to average weights`,
    );
  }
  return settings;
}

/** Converts a TensorLike to a tensor of `dtype`; a Tensor of another dtype is a TypeError when `strict`. */
function toTensor(
  value: unknown,
  where: string,
  name: string,
  dtype: DType,
  strict = false,
): Tensor {
  if (value instanceof Tensor) {
    if (strict && value.dtype !== dtype) {
      throw new TypeError(
        `${where}: ${name} is ${value.dtype} but the module is ${dtype}; expected ${dtype} (convert with astype)`,
      );
    }
    return value.astype(dtype);
  }
  if (!Array.isArray(value) && typeof value !== "number") {
    throw new TypeError(
      `${where}: ${name} is ${formatValue(value)}; expected a Tensor or nested arrays of numbers`,
    );
  }
  try {
    return tensor(value as number[], { dtype });
  } catch (error) {
    // Re-label the converter's message with this function and argument name.
    const message = (error as Error).message.replace(/^tensor: values/, `${where}: ${name}`);
    throw error instanceof TypeError ? new TypeError(message) : new RangeError(message);
  }
}

/** x (N, T, E) -> x W^T + b, split into heads: (N, heads, T, Dh), contiguous. */
function projectHeads(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  heads: number,
  Dh: number,
  dtype: DType,
): Tensor {
  const [N, T, E] = x.shape;
  const width = heads * Dh;
  const projected = allocate(dtype, N * T * width);
  linearKernel(x.contiguous().data, N * T, E, weight.data, bias?.data ?? null, width, projected);
  const out = allocate(dtype, N * T * width);
  for (let n = 0; n < N; n++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < heads; h++) {
        const from = (n * T + t) * width + h * Dh;
        out.set(projected.subarray(from, from + Dh), ((n * heads + h) * T + t) * Dh);
      }
    }
  }
  return new Tensor(out, [N, heads, T, Dh]);
}

function averageHeads(weights: Tensor, N: number, H: number, L: number, S: number): Tensor {
  const data = weights.contiguous().data;
  const out = allocate(weights.dtype, N * L * S);
  const plane = L * S;
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      const from = (n * H + h) * plane;
      for (let j = 0; j < plane; j++) out[n * plane + j] += data[from + j];
    }
    for (let j = 0; j < plane; j++) out[n * plane + j] /= H;
  }
  return new Tensor(out, [N, L, S]);
}

/**
 * Combines `mask` (broadcastable to (N, H, L, S)) and `keyMask` (N, S) into one
 * 0/1 float64 tensor (N, H, L, S), or (N, 1, L, S) when no mask varies by head.
 */
function buildKeepMask(
  mask: MaskLike | null,
  keyMask: MaskLike | null,
  batched: boolean,
  N: number,
  H: number,
  L: number,
  S: number,
  where: string,
): { tensor: Tensor; perHead: boolean } | null {
  if (mask === null && keyMask === null) return null;

  const target = batched ? [N, H, L, S] : [H, L, S];
  const targetText = batched
    ? `(N, H, L, S) = ${formatShape(target)}`
    : `(H, L, S) = ${formatShape(target)}`;
  let maskData: TensorData | null = null;
  let maskStrides = [0, 0, 0, 0];
  let perHead = false;
  if (mask !== null) {
    const m = toMaskTensor(mask, where, "options.mask");
    if (m.ndim < 2 || m.ndim > target.length) {
      throw new RangeError(
        `${where}: options.mask has shape ${formatShape(m.shape)}; expected a shape broadcastable to ${targetText}`,
      );
    }
    const full = [...new Array(4 - m.ndim).fill(1), ...m.shape];
    const want = [N, H, L, S];
    const contiguous = m.contiguous();
    let stride = 1;
    const strides = [0, 0, 0, 0];
    for (let d = 3; d >= 0; d--) {
      if (full[d] !== 1 && full[d] !== want[d]) {
        throw new RangeError(
          `${where}: options.mask has shape ${formatShape(m.shape)}; expected a shape broadcastable to ${targetText}`,
        );
      }
      strides[d] = full[d] === 1 ? 0 : stride;
      stride *= full[d];
    }
    perHead = full[1] !== 1;
    maskData = contiguous.data;
    maskStrides = strides;
  }

  let keyData: TensorData | null = null;
  if (keyMask !== null) {
    const km = toMaskTensor(keyMask, where, "options.keyMask");
    const expected = batched ? [N, S] : [S];
    if (km.ndim !== expected.length || km.shape.some((d, i) => d !== expected[i])) {
      throw new RangeError(
        `${where}: options.keyMask has shape ${formatShape(km.shape)}; expected ${batched ? "(N, S)" : "(S)"} = ${formatShape(expected)}`,
      );
    }
    keyData = km.contiguous().data;
  }

  // Combine: a key is kept when the mask keeps it and it is not padding.
  const heads = perHead ? H : 1;
  const out = new Float64Array(N * heads * L * S);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < L; i++) {
        const row = ((n * heads + h) * L + i) * S;
        for (let j = 0; j < S; j++) {
          let keepIt = 1;
          if (maskData !== null) {
            keepIt =
              maskData[
                n * maskStrides[0] + h * maskStrides[1] + i * maskStrides[2] + j * maskStrides[3]
              ];
          }
          if (keyData !== null && keyData[n * S + j] === 0) keepIt = 0;
          out[row + j] = keepIt;
        }
      }
    }
  }
  return { tensor: new Tensor(out, [N, heads, L, S]), perHead };
}

function toMaskTensor(mask: MaskLike, where: string, name: string): Tensor {
  const m =
    mask instanceof Tensor ? mask.astype("float64") : toTensor(mask, where, name, "float64");
  const data = m.contiguous().data;
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0 && data[i] !== 1) {
      throw new RangeError(
        `${where}: ${name} contains ${formatValue(data[i])} at flat index ${i}; expected a keep-mask of true/false or 1/0 ` +
          `(an additive 0/-Infinity mask is not a keep-mask)`,
      );
    }
  }
  return m;
}
