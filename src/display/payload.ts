// The attention MIME payload (schema version 1) that the JupyterLab extension
// renders: types, a builder and a validator that rejects what the extension
// would reject.

import { describeValue } from "./matrix.js";

/** MIME type of the attention payload. */
export const ATTENTION_MIME_TYPE = "application/vnd.dotattn.attention+json";

/** Largest query or key count (L or S) a payload may hold. */
export const MAX_PAYLOAD_TOKENS = 512;

/** Largest total count of weights over all layers and heads in one payload. */
export const MAX_PAYLOAD_NUMBERS = 2_000_000;

/** One head's weights: L rows (queries) of S numbers (keys) in [0, 1]. */
export interface AttentionPayloadHead {
  label: string;
  weights: number[][];
}

/** One layer: at least one head. */
export interface AttentionPayloadLayer {
  label: string;
  heads: AttentionPayloadHead[];
}

/** The data of an `application/vnd.dotattn.attention+json` output (schema version 1). */
export interface AttentionPayload {
  version: 1;
  title?: string;
  caption?: string;
  /** Length L: rows, queries, vertical axis. */
  queryTokens: string[];
  /** Length S: columns, keys, horizontal axis. */
  keyTokens: string[];
  layers: AttentionPayloadLayer[];
}

function fail(kind: "type" | "range", path: string, message: string): never {
  const text = `validateAttentionPayload: ${path}: ${message}`;
  throw kind === "type" ? new TypeError(text) : new RangeError(text);
}

function checkString(value: unknown, path: string): void {
  if (typeof value !== "string")
    fail("type", path, `expected a string, got ${describeValue(value)}`);
}

function checkTokens(value: unknown, path: string): number {
  if (!Array.isArray(value))
    fail("type", path, `expected an array of strings, got ${describeValue(value)}`);
  if (value.length > MAX_PAYLOAD_TOKENS) {
    fail("range", path, `expected at most ${MAX_PAYLOAD_TOKENS} tokens, got ${value.length}`);
  }
  value.forEach((token, i) => checkString(token, `${path}[${i}]`));
  return value.length;
}

/**
 * Checks that a value is a valid attention payload (schema version 1).
 *
 * @throws TypeError when a field has the wrong kind of value (the message names the field path).
 * @throws RangeError when `version` is not 1, a token list is longer than 512, a weights
 *   matrix is not L x S, a weight is not a finite number in [0, 1], `layers` or `heads` is
 *   empty, or the payload holds more than 2,000,000 numbers.
 */
export function validateAttentionPayload(payload: unknown): asserts payload is AttentionPayload {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    fail("type", "payload", `expected an object, got ${describeValue(payload)}`);
  }
  const record = payload as Record<string, unknown>;
  if (record.version !== 1) {
    fail("range", "version", `expected 1, got ${describeValue(record.version)}`);
  }
  if (record.title !== undefined) checkString(record.title, "title");
  if (record.caption !== undefined) checkString(record.caption, "caption");
  const queryCount = checkTokens(record.queryTokens, "queryTokens");
  const keyCount = checkTokens(record.keyTokens, "keyTokens");
  const layers = record.layers;
  if (!Array.isArray(layers))
    fail("type", "layers", `expected an array, got ${describeValue(layers)}`);
  if (layers.length === 0) fail("range", "layers", "expected at least one layer, got 0");
  let total = 0;
  layers.forEach((layer: unknown, l) => {
    const layerPath = `layers[${l}]`;
    if (typeof layer !== "object" || layer === null || Array.isArray(layer)) {
      fail("type", layerPath, `expected an object, got ${describeValue(layer)}`);
    }
    const { label, heads } = layer as Record<string, unknown>;
    checkString(label, `${layerPath}.label`);
    if (!Array.isArray(heads))
      fail("type", `${layerPath}.heads`, `expected an array, got ${describeValue(heads)}`);
    if (heads.length === 0)
      fail("range", `${layerPath}.heads`, "expected at least one head, got 0");
    heads.forEach((head: unknown, h) => {
      const headPath = `${layerPath}.heads[${h}]`;
      if (typeof head !== "object" || head === null || Array.isArray(head)) {
        fail("type", headPath, `expected an object, got ${describeValue(head)}`);
      }
      const { label: headLabel, weights } = head as Record<string, unknown>;
      checkString(headLabel, `${headPath}.label`);
      const weightsPath = `${headPath}.weights`;
      if (!Array.isArray(weights))
        fail(
          "type",
          weightsPath,
          `expected an array of ${queryCount} rows, got ${describeValue(weights)}`,
        );
      if (weights.length !== queryCount) {
        fail(
          "range",
          weightsPath,
          `expected ${queryCount} rows (one per query token), got ${weights.length}`,
        );
      }
      total += queryCount * keyCount;
      if (total > MAX_PAYLOAD_NUMBERS) {
        fail(
          "range",
          weightsPath,
          `the payload holds more than ${MAX_PAYLOAD_NUMBERS} numbers over all layers and heads`,
        );
      }
      weights.forEach((row: unknown, i) => {
        const rowPath = `${weightsPath}[${i}]`;
        if (!Array.isArray(row))
          fail(
            "type",
            rowPath,
            `expected an array of ${keyCount} numbers, got ${describeValue(row)}`,
          );
        if (row.length !== keyCount)
          fail("range", rowPath, `expected ${keyCount} numbers, got ${row.length}`);
        row.forEach((weight: unknown, j) => {
          if (typeof weight !== "number") {
            fail("type", `${rowPath}[${j}]`, `expected a number, got ${describeValue(weight)}`);
          }
          if (!Number.isFinite(weight) || weight < 0 || weight > 1) {
            fail(
              "range",
              `${rowPath}[${j}]`,
              `expected a finite number in [0, 1], got ${String(weight)}`,
            );
          }
        });
      });
    });
  });
}
