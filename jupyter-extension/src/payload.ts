/**
 * The attention payload (schema version 1) and its validator.
 *
 * This module has no DOM or JupyterLab dependency, so the validator runs
 * unchanged in Node (unit tests) and in the browser (the renderer).
 *
 * Dimension legend: L is the number of query tokens (rows, vertical axis),
 * S the number of key tokens (columns, horizontal axis).
 */

/** The MIME type this extension renders. */
export const ATTENTION_MIME_TYPE = 'application/vnd.dotattn.attention+json';

/** The only payload schema version this extension accepts. */
export const PAYLOAD_VERSION = 1;

/** The maximum number of query tokens (L) and of key tokens (S). */
export const MAX_TOKENS = 512;

/** The maximum count of weights over all layers and heads. */
export const MAX_WEIGHTS = 2_000_000;

/** One head's attention weights: L rows of S numbers in [0, 1]. */
export interface AttentionHead {
  /** The head's name in the head selector. */
  label: string;
  /** Row i is how much query token i attends to each key token. */
  weights: number[][];
}

/** One layer: its label and at least one head. */
export interface AttentionLayer {
  /** The layer's name in the layer selector. */
  label: string;
  /** The layer's heads, in selector order. */
  heads: AttentionHead[];
}

/** A validated attention payload. */
export interface AttentionPayload {
  /** The schema version, always 1. */
  version: 1;
  /** A heading drawn above the heatmap, if given. */
  title?: string;
  /** A caption drawn below the heatmap, if given. */
  caption?: string;
  /** The L query tokens (rows). */
  queryTokens: string[];
  /** The S key tokens (columns). */
  keyTokens: string[];
  /** At least one layer. */
  layers: AttentionLayer[];
}

/** A payload rejected for the wrong kind of value (a string where a number belongs, a missing field). */
export class PayloadTypeError extends TypeError {
  /** The path of the failing field, such as `layers[0].heads[2].weights[4]`. */
  readonly field: string;

  constructor(field: string, detail: string) {
    super(`validatePayload: ${field}: ${detail}`);
    this.name = 'PayloadTypeError';
    this.field = field;
  }
}

/** A payload rejected for a bad value (wrong version, ragged rows, a weight outside [0, 1], too much data). */
export class PayloadRangeError extends RangeError {
  /** The path of the failing field, such as `layers[0].heads[2].weights[4]`. */
  readonly field: string;

  constructor(field: string, detail: string) {
    super(`validatePayload: ${field}: ${detail}`);
    this.name = 'PayloadRangeError';
    this.field = field;
  }
}

/** Either error that {@link validatePayload} throws. */
export type PayloadError = PayloadTypeError | PayloadRangeError;

/**
 * Describes a received value for an error message: its kind and a short
 * preview, such as `string "0.5"`, `null` or `array of 3 items`.
 */
export function describeValue(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (value === undefined) {
    return 'nothing (the field is missing)';
  }
  if (Array.isArray(value)) {
    return `array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  }
  switch (typeof value) {
    case 'number':
      return `number ${String(value)}`;
    case 'string': {
      const preview = value.length > 40 ? `${value.slice(0, 40)}...` : value;
      return `string ${JSON.stringify(preview)}`;
    }
    case 'boolean':
      return `boolean ${String(value)}`;
    case 'object':
      return 'object';
    default:
      return typeof value;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

function checkOptionalString(
  source: Record<string, unknown>,
  key: string,
  field: string
): string | undefined {
  const value = source[key];
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new PayloadTypeError(
      field,
      `expected a string or no field, got ${describeValue(value)}`
    );
  }
  return value;
}

function checkTokens(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) {
    throw new PayloadTypeError(
      field,
      `expected an array of strings, got ${describeValue(value)}`
    );
  }
  if (value.length > MAX_TOKENS) {
    throw new PayloadRangeError(
      field,
      `expected at most ${MAX_TOKENS} tokens, got ${value.length}`
    );
  }
  value.forEach((token: unknown, index: number) => {
    if (typeof token !== 'string') {
      throw new PayloadTypeError(
        `${field}[${index}]`,
        `expected a string, got ${describeValue(token)}`
      );
    }
  });
  return value as string[];
}

function checkWeights(
  value: unknown,
  field: string,
  rowCount: number,
  columnCount: number
): number[][] {
  if (!Array.isArray(value)) {
    throw new PayloadTypeError(
      field,
      `expected an array of ${rowCount} rows, got ${describeValue(value)}`
    );
  }
  if (value.length !== rowCount) {
    throw new PayloadRangeError(
      field,
      `expected ${rowCount} rows (one per query token), got ${value.length}`
    );
  }
  for (let i = 0; i < rowCount; i++) {
    const row: unknown = value[i];
    const rowField = `${field}[${i}]`;
    if (!Array.isArray(row)) {
      throw new PayloadTypeError(
        rowField,
        `expected an array of ${columnCount} numbers, got ${describeValue(row)}`
      );
    }
    if (row.length !== columnCount) {
      throw new PayloadRangeError(
        rowField,
        `expected ${columnCount} numbers (one per key token), got ${row.length}`
      );
    }
    for (let j = 0; j < columnCount; j++) {
      const weight: unknown = row[j];
      if (typeof weight !== 'number') {
        throw new PayloadTypeError(
          `${rowField}[${j}]`,
          `expected a number in [0, 1], got ${describeValue(weight)}`
        );
      }
      // The negated test also rejects NaN, for which every comparison is false.
      if (!(weight >= 0 && weight <= 1)) {
        throw new PayloadRangeError(
          `${rowField}[${j}]`,
          `expected a finite number in [0, 1], got ${String(weight)}`
        );
      }
    }
  }
  return value as number[][];
}

/**
 * Validates an attention payload (schema version 1) and returns it typed,
 * with missing layer and head labels filled in as `layer i` and `head j`.
 *
 * A string is read as the payload's JSON text, because a kernel may send the
 * MIME data as text. Fields that the schema does not name are ignored.
 * Checks run in document order and the first failure is thrown, so the error
 * names one field.
 *
 * @param data - The MIME data: an object, or a string holding its JSON text.
 * @returns The payload, sharing its token and weight arrays with `data`.
 * @throws {PayloadTypeError} when the data is neither an object nor JSON text of one.
 * @throws {PayloadRangeError} when the JSON text cannot be parsed.
 * @throws {PayloadTypeError} when `version` is missing or not a number.
 * @throws {PayloadRangeError} when `version` is not 1.
 * @throws {PayloadTypeError} when `title` or `caption` is present and not a string.
 * @throws {PayloadTypeError} when `queryTokens` or `keyTokens` is not an array of strings.
 * @throws {PayloadRangeError} when `queryTokens` or `keyTokens` contains more than 512 tokens.
 * @throws {PayloadTypeError} when `layers`, a layer's `heads`, or a label has the wrong kind of value.
 * @throws {PayloadRangeError} when `layers` or a layer's `heads` is empty.
 * @throws {PayloadRangeError} when all heads together hold more than 2,000,000 weights.
 * @throws {PayloadRangeError} when a weights matrix does not have L rows of S numbers.
 * @throws {PayloadTypeError} when a weight is not a number (JSON turns NaN into null).
 * @throws {PayloadRangeError} when a weight is NaN, infinite or outside [0, 1].
 *
 * @example
 * ```ts
 * const payload = validatePayload({
 *   version: 1,
 *   queryTokens: ['a', 'b'],
 *   keyTokens: ['a', 'b'],
 *   layers: [{ heads: [{ weights: [[1, 0], [0.5, 0.5]] }] }]
 * });
 * payload.layers[0].heads[0].label; // 'head 0'
 * ```
 */
export function validatePayload(data: unknown): AttentionPayload {
  let source: unknown = data;
  if (typeof source === 'string') {
    try {
      source = JSON.parse(source);
    } catch (error) {
      throw new PayloadRangeError(
        'payload',
        `expected JSON text of an object, got text that does not parse (${(error as Error).message})`
      );
    }
  }
  if (!isPlainObject(source)) {
    throw new PayloadTypeError(
      'payload',
      `expected an object, got ${describeValue(source)}`
    );
  }

  const version = source.version;
  if (typeof version !== 'number') {
    throw new PayloadTypeError(
      'version',
      `expected the number ${PAYLOAD_VERSION}, got ${describeValue(version)}`
    );
  }
  if (version !== PAYLOAD_VERSION) {
    throw new PayloadRangeError(
      'version',
      `expected ${PAYLOAD_VERSION}, got ${String(version)} (this extension reads schema version ${PAYLOAD_VERSION} only)`
    );
  }

  const title = checkOptionalString(source, 'title', 'title');
  const caption = checkOptionalString(source, 'caption', 'caption');
  const queryTokens = checkTokens(source.queryTokens, 'queryTokens');
  const keyTokens = checkTokens(source.keyTokens, 'keyTokens');
  const rowCount = queryTokens.length;
  const columnCount = keyTokens.length;

  const rawLayers = source.layers;
  if (!Array.isArray(rawLayers)) {
    throw new PayloadTypeError(
      'layers',
      `expected an array of layers, got ${describeValue(rawLayers)}`
    );
  }
  if (rawLayers.length === 0) {
    throw new PayloadRangeError('layers', 'expected at least 1 layer, got 0');
  }

  // Shape checks first, so that an oversized payload is rejected before any
  // of its numbers are read.
  let headCount = 0;
  rawLayers.forEach((layer: unknown, layerIndex: number) => {
    const field = `layers[${layerIndex}]`;
    if (!isPlainObject(layer)) {
      throw new PayloadTypeError(
        field,
        `expected an object with heads, got ${describeValue(layer)}`
      );
    }
    checkOptionalString(layer, 'label', `${field}.label`);
    const heads = layer.heads;
    if (!Array.isArray(heads)) {
      throw new PayloadTypeError(
        `${field}.heads`,
        `expected an array of heads, got ${describeValue(heads)}`
      );
    }
    if (heads.length === 0) {
      throw new PayloadRangeError(
        `${field}.heads`,
        'expected at least 1 head, got 0'
      );
    }
    headCount += heads.length;
  });
  const weightCount = headCount * rowCount * columnCount;
  if (weightCount > MAX_WEIGHTS) {
    throw new PayloadRangeError(
      'layers',
      `expected at most ${formatCount(MAX_WEIGHTS)} weights in all, got ${headCount} heads of [${rowCount}, ${columnCount}] = ${formatCount(weightCount)}`
    );
  }

  const layers = rawLayers.map(
    (layer: Record<string, unknown>, layerIndex: number): AttentionLayer => {
      const field = `layers[${layerIndex}]`;
      const heads = (layer.heads as unknown[]).map(
        (head: unknown, headIndex: number): AttentionHead => {
          const headField = `${field}.heads[${headIndex}]`;
          if (!isPlainObject(head)) {
            throw new PayloadTypeError(
              headField,
              `expected an object with weights, got ${describeValue(head)}`
            );
          }
          const label =
            checkOptionalString(head, 'label', `${headField}.label`) ??
            `head ${headIndex}`;
          const weights = checkWeights(
            head.weights,
            `${headField}.weights`,
            rowCount,
            columnCount
          );
          return { label, weights };
        }
      );
      const label = (layer.label as string | undefined) ?? `layer ${layerIndex}`;
      return { label, heads };
    }
  );

  const payload: AttentionPayload = {
    version: PAYLOAD_VERSION,
    queryTokens,
    keyTokens,
    layers
  };
  if (title !== undefined) {
    payload.title = title;
  }
  if (caption !== undefined) {
    payload.caption = caption;
  }
  return payload;
}
