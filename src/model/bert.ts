// The BERT encoder (as Hugging Face's BertModel, without the pooler) run with
// dotattn: embeddings, then layers of self-attention (MultiHeadAttention over
// scaledDotProductAttention) and a GELU feed-forward block, each followed by a
// residual connection and LayerNorm.
//
// Dimension legend: N batch, L tokens, D hidden size, H heads, F intermediate size.

import { readFileSync } from "node:fs";

import { formatShape, formatValue } from "../format.js";
import { MultiHeadAttention } from "../multihead.js";
import { Tensor, allocate, type DType, type TensorData } from "../tensor.js";
import { gelu, layerNormKernel, linearKernel } from "./ops.js";
import type { SafetensorsFile } from "./safetensors.js";

/** The fields of a BERT config.json that the encoder uses. */
export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  /** Only "gelu" (the exact, erf-based GELU) is supported. */
  hiddenAct: "gelu";
}

/**
 * Reads a Hugging Face BERT config.json.
 *
 * @throws {TypeError} when `path` is not a string.
 * @throws {RangeError} when the file is not JSON, a field is missing or not a positive integer,
 *   `position_embedding_type` is not "absolute", or `hidden_act` is not "gelu".
 */
export function readBertConfig(path: string): BertConfig {
  const where = "readBertConfig";
  if (typeof path !== "string")
    throw new TypeError(`${where}: path is ${formatValue(path)}; expected a file path (a string)`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, "utf-8")) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof SyntaxError)
      throw new RangeError(`${where}: ${path} is not valid JSON (${error.message})`, {
        cause: error,
      });
    throw error;
  }
  const count = (key: string): number => {
    const value = raw[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `${where}: ${path}: ${key} is ${formatValue(value)}; expected an integer >= 1`,
      );
    }
    return value;
  };
  const eps = raw.layer_norm_eps ?? 1e-12;
  if (typeof eps !== "number" || !(eps > 0)) {
    throw new RangeError(
      `${where}: ${path}: layer_norm_eps is ${formatValue(eps)}; expected a number > 0`,
    );
  }
  if (raw.hidden_act !== "gelu") {
    throw new RangeError(
      `${where}: ${path}: hidden_act is ${formatValue(raw.hidden_act)}; only "gelu" (exact GELU) is supported`,
    );
  }
  const positions = raw.position_embedding_type ?? "absolute";
  if (positions !== "absolute") {
    throw new RangeError(
      `${where}: ${path}: position_embedding_type is ${formatValue(positions)}; only "absolute" is supported`,
    );
  }
  const config: BertConfig = {
    vocabSize: count("vocab_size"),
    hiddenSize: count("hidden_size"),
    numHiddenLayers: count("num_hidden_layers"),
    numAttentionHeads: count("num_attention_heads"),
    intermediateSize: count("intermediate_size"),
    maxPositionEmbeddings: count("max_position_embeddings"),
    typeVocabSize: count("type_vocab_size"),
    layerNormEps: eps,
    hiddenAct: "gelu",
  };
  if (config.hiddenSize % config.numAttentionHeads !== 0) {
    throw new RangeError(
      `${where}: ${path}: num_attention_heads ${config.numAttentionHeads} does not divide hidden_size ${config.hiddenSize}`,
    );
  }
  return config;
}

/** Inputs of {@link BertModel.forward}, as a tokenizer's batch encoding gives them. */
export interface BertInputs {
  /** Token ids, (N, L), each in [0, vocabSize). */
  inputIds: readonly (readonly number[])[];
  /** 1 for real tokens and 0 for padding, (N, L). Default all 1. */
  attentionMask?: readonly (readonly number[])[];
  /** Segment ids, (N, L), each in [0, typeVocabSize). Default all 0. */
  tokenTypeIds?: readonly (readonly number[])[];
}

/** Options of {@link BertModel.forward}. */
export interface BertForwardOptions {
  /** Return the embeddings' output and every layer's output. Default false. */
  outputHiddenStates?: boolean;
  /** Return every layer's attention weights. Default false. */
  outputAttentions?: boolean;
}

/** Result of {@link BertModel.forward}. */
export interface BertOutput {
  /** The last layer's output, (N, L, D). */
  lastHiddenState: Tensor;
  /** numHiddenLayers + 1 tensors (N, L, D): index 0 is the embeddings' output; empty unless requested. */
  hiddenStates: Tensor[];
  /** numHiddenLayers tensors (N, H, L, L) of attention weights (rows: queries, columns: keys); empty unless requested. */
  attentions: Tensor[];
}

interface Dense {
  weight: TensorData; // (out, in)
  bias: TensorData; // (out)
  outFeatures: number;
  inFeatures: number;
}

interface Norm {
  gamma: TensorData;
  beta: TensorData;
}

interface Layer {
  attention: MultiHeadAttention;
  attentionNorm: Norm;
  intermediate: Dense;
  output: Dense;
  outputNorm: Norm;
}

/**
 * The BERT encoder with weights from a safetensors file, computing in float64
 * or float32. Attention goes through {@link MultiHeadAttention}, with padding
 * keys masked for every query (padding queries still get outputs, as in
 * Hugging Face's model).
 *
 * NOTE: inference only: no dropout, no pooler, no relative position embeddings.
 */
export class BertModel {
  /** The architecture. */
  readonly config: BertConfig;
  /** Element type of weights and activations. */
  readonly dtype: DType;
  private readonly wordEmbeddings: TensorData;
  private readonly positionEmbeddings: TensorData;
  private readonly tokenTypeEmbeddings: TensorData;
  private readonly embeddingNorm: Norm;
  private readonly layers: Layer[];

  private constructor(
    config: BertConfig,
    dtype: DType,
    weights: (name: string, shape: number[]) => TensorData,
  ) {
    this.config = config;
    this.dtype = dtype;
    const D = config.hiddenSize;
    const F = config.intermediateSize;
    this.wordEmbeddings = weights("embeddings.word_embeddings.weight", [config.vocabSize, D]);
    this.positionEmbeddings = weights("embeddings.position_embeddings.weight", [
      config.maxPositionEmbeddings,
      D,
    ]);
    this.tokenTypeEmbeddings = weights("embeddings.token_type_embeddings.weight", [
      config.typeVocabSize,
      D,
    ]);
    const norm = (prefix: string): Norm => ({
      gamma: weights(`${prefix}.weight`, [D]),
      beta: weights(`${prefix}.bias`, [D]),
    });
    const dense = (prefix: string, outFeatures: number, inFeatures: number): Dense => ({
      weight: weights(`${prefix}.weight`, [outFeatures, inFeatures]),
      bias: weights(`${prefix}.bias`, [outFeatures]),
      outFeatures,
      inFeatures,
    });
    this.embeddingNorm = norm("embeddings.LayerNorm");
    this.layers = [];
    for (let i = 0; i < config.numHiddenLayers; i++) {
      const p = `encoder.layer.${i}`;
      const attentionDict: Record<string, Tensor> = {};
      for (const name of ["self.query", "self.key", "self.value", "output.dense"]) {
        const rows = D;
        attentionDict[`${name}.weight`] = new Tensor(
          weights(`${p}.attention.${name}.weight`, [rows, D]),
          [rows, D],
        );
        attentionDict[`${name}.bias`] = new Tensor(weights(`${p}.attention.${name}.bias`, [rows]), [
          rows,
        ]);
      }
      this.layers.push({
        attention: MultiHeadAttention.fromStateDict(attentionDict, {
          numHeads: config.numAttentionHeads,
          dtype,
        }),
        attentionNorm: norm(`${p}.attention.output.LayerNorm`),
        intermediate: dense(`${p}.intermediate.dense`, F, D),
        output: dense(`${p}.output.dense`, D, F),
        outputNorm: norm(`${p}.output.LayerNorm`),
      });
    }
  }

  /**
   * Builds the encoder from a safetensors file of a Hugging Face BertModel
   * (tensor names with or without a leading "bert.").
   *
   * @throws {TypeError} when `file` is not a SafetensorsFile or `options.dtype` is unknown.
   * @throws {RangeError} when a tensor is missing or its shape does not match `config`.
   */
  static fromSafetensors(
    file: SafetensorsFile,
    config: BertConfig,
    options: { dtype?: DType } = {},
  ): BertModel {
    const where = "BertModel.fromSafetensors";
    if (
      file === null ||
      typeof file !== "object" ||
      typeof (file as SafetensorsFile).tensor !== "function"
    ) {
      throw new TypeError(
        `${where}: file is ${formatValue(file)}; expected a SafetensorsFile (from readSafetensors)`,
      );
    }
    const dtype = options.dtype ?? "float32";
    if (dtype !== "float64" && dtype !== "float32") {
      throw new TypeError(
        `${where}: options.dtype is ${formatValue(dtype)}; expected "float64" or "float32"`,
      );
    }
    const prefix = file.has("embeddings.word_embeddings.weight")
      ? ""
      : file.has("bert.embeddings.word_embeddings.weight")
        ? "bert."
        : "";
    const weights = (name: string, shape: number[]): TensorData => {
      const full = prefix + name;
      if (!file.has(full))
        throw new RangeError(
          `${where}: ${file.source} has no tensor ${JSON.stringify(full)}; expected a BERT checkpoint`,
        );
      const t = file.tensor(full, { dtype });
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new RangeError(
          `${where}: ${file.source}: ${JSON.stringify(full)} has shape ${formatShape(t.shape)}; expected ${formatShape(shape)} from the config`,
        );
      }
      return t.data;
    };
    return new BertModel(config, dtype, weights);
  }

  /**
   * Runs the encoder on a batch of token ids.
   *
   * @example
   * const { tokenizer, model } = loadMiniLM();
   * const { lastHiddenState } = model.forward(tokenizer.encodeBatch(["a cat", "a dog sat"])); // (2, 5, 384)
   *
   * @throws {TypeError} when an input is not an array of arrays of numbers or an option is not a boolean.
   * @throws {RangeError} when rows differ in length, L is 0 or above maxPositionEmbeddings, an id is out of
   *   range, the attention mask contains values other than 0 and 1, or shapes of the inputs differ.
   */
  forward(inputs: BertInputs, options: BertForwardOptions = {}): BertOutput {
    const where = "BertModel.forward";
    if (inputs === null || typeof inputs !== "object") {
      throw new TypeError(
        `${where}: inputs is ${formatValue(inputs)}; expected { inputIds, attentionMask?, tokenTypeIds? }`,
      );
    }
    if (options === null || typeof options !== "object") {
      throw new TypeError(`${where}: options is ${formatValue(options)}; expected an object`);
    }
    const outputHiddenStates = checkFlag(
      options.outputHiddenStates,
      where,
      "options.outputHiddenStates",
    );
    const outputAttentions = checkFlag(options.outputAttentions, where, "options.outputAttentions");
    const { config } = this;
    const ids = checkGrid(inputs.inputIds, where, "inputs.inputIds", null, 0, config.vocabSize - 1);
    const [N, L] = ids.shape;
    if (N === 0 || L === 0) {
      throw new RangeError(
        `${where}: inputs.inputIds has shape ${formatShape(ids.shape)}; expected at least one row and one token`,
      );
    }
    if (L > config.maxPositionEmbeddings) {
      throw new RangeError(
        `${where}: inputs.inputIds has ${L} tokens per row; expected at most maxPositionEmbeddings ${config.maxPositionEmbeddings} (truncate the encoding)`,
      );
    }
    const mask =
      inputs.attentionMask === undefined
        ? null
        : checkGrid(inputs.attentionMask, where, "inputs.attentionMask", ids.shape, 0, 1);
    const types =
      inputs.tokenTypeIds === undefined
        ? null
        : checkGrid(
            inputs.tokenTypeIds,
            where,
            "inputs.tokenTypeIds",
            ids.shape,
            0,
            config.typeVocabSize - 1,
          );

    const D = config.hiddenSize;
    const rows = N * L;
    const eps = config.layerNormEps;

    // Embeddings: word + absolute position + token type, then LayerNorm.
    let hidden = allocate(this.dtype, rows * D);
    for (let n = 0; n < N; n++) {
      for (let t = 0; t < L; t++) {
        const r = n * L + t;
        const word = ids.values[r] * D;
        const position = t * D;
        const type = (types === null ? 0 : types.values[r]) * D;
        for (let d = 0; d < D; d++) {
          hidden[r * D + d] =
            this.wordEmbeddings[word + d] +
            this.positionEmbeddings[position + d] +
            this.tokenTypeEmbeddings[type + d];
        }
      }
    }
    layerNormKernel(
      hidden,
      rows,
      D,
      this.embeddingNorm.gamma,
      this.embeddingNorm.beta,
      eps,
      hidden,
    );

    const hiddenStates: Tensor[] = [];
    const attentions: Tensor[] = [];
    if (outputHiddenStates) hiddenStates.push(new Tensor(hidden.slice(), [N, L, D]));
    const keyMask = mask === null ? null : new Tensor(Float64Array.from(mask.values), [N, L]);

    for (const layer of this.layers) {
      const x = new Tensor(hidden, [N, L, D]);
      const attended = layer.attention.forward(x, x, x, { keyMask, needWeights: outputAttentions });
      if (outputAttentions) attentions.push(attended.weights!);

      // Residual and LayerNorm after attention.
      const afterAttention = attended.output.contiguous().data;
      for (let i = 0; i < afterAttention.length; i++) afterAttention[i] += hidden[i];
      layerNormKernel(
        afterAttention,
        rows,
        D,
        layer.attentionNorm.gamma,
        layer.attentionNorm.beta,
        eps,
        afterAttention,
      );

      // Feed-forward: D -> F with GELU, F -> D, residual and LayerNorm.
      const inner = allocate(this.dtype, rows * layer.intermediate.outFeatures);
      linearKernel(
        afterAttention,
        rows,
        D,
        layer.intermediate.weight,
        layer.intermediate.bias,
        layer.intermediate.outFeatures,
        inner,
      );
      for (let i = 0; i < inner.length; i++) inner[i] = gelu(inner[i]);
      const next = allocate(this.dtype, rows * D);
      linearKernel(
        inner,
        rows,
        layer.output.inFeatures,
        layer.output.weight,
        layer.output.bias,
        D,
        next,
      );
      for (let i = 0; i < next.length; i++) next[i] += afterAttention[i];
      layerNormKernel(next, rows, D, layer.outputNorm.gamma, layer.outputNorm.beta, eps, next);

      hidden = next;
      if (outputHiddenStates) hiddenStates.push(new Tensor(hidden, [N, L, D]));
    }
    return { lastHiddenState: new Tensor(hidden, [N, L, D]), hiddenStates, attentions };
  }
}

function checkFlag(value: unknown, where: string, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean")
    throw new TypeError(`${where}: ${name} is ${formatValue(value)}; expected true or false`);
  return value;
}

/** Validates an (N, L) array of integers in [low, high] and flattens it. */
function checkGrid(
  grid: unknown,
  where: string,
  name: string,
  shape: readonly number[] | null,
  low: number,
  high: number,
): { shape: [number, number]; values: Int32Array } {
  if (!Array.isArray(grid))
    throw new TypeError(
      `${where}: ${name} is ${formatValue(grid)}; expected an array of rows of integers (N, L)`,
    );
  const N = grid.length;
  const first: unknown = grid[0];
  const L = Array.isArray(first) ? first.length : 0;
  if (shape !== null && (N !== shape[0] || L !== shape[1])) {
    throw new RangeError(
      `${where}: ${name} has shape ${formatShape([N, L])}; expected ${formatShape(shape)} like inputs.inputIds`,
    );
  }
  const values = new Int32Array(N * L);
  for (let n = 0; n < N; n++) {
    const row: unknown = grid[n];
    if (!Array.isArray(row))
      throw new TypeError(
        `${where}: ${name}[${n}] is ${formatValue(row)}; expected an array of integers`,
      );
    if (row.length !== L) {
      throw new RangeError(
        `${where}: ${name}[${n}] has ${row.length} entries but ${name}[0] has ${L}; expected rows of equal length (pad the batch)`,
      );
    }
    for (let t = 0; t < L; t++) {
      const value: unknown = row[t];
      if (typeof value !== "number")
        throw new TypeError(
          `${where}: ${name}[${n}][${t}] is ${formatValue(value)}; expected an integer`,
        );
      if (!Number.isInteger(value) || value < low || value > high) {
        throw new RangeError(
          `${where}: ${name}[${n}][${t}] is ${formatValue(value)}; expected an integer in [${low}, ${high}]`,
        );
      }
      values[n * L + t] = value;
    }
  }
  return { shape: [N, L], values };
}
