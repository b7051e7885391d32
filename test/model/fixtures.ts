// Loading of the parity fixtures written by scripts/gen_model_parity.py and
// scripts/gen_mha_vectors.py.

import { readFileSync } from "node:fs";
import { join } from "node:path";

import type { StridedValues } from "../core/helpers/compare.js";

export const FIXTURES = join(import.meta.dirname, "..", "fixtures", "model");

/** Reads and parses one JSON fixture of test/fixtures/model. */
export function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), "utf-8")) as T;
}

/** An array stored as base64 of little-endian float64 ("f64") or float32 ("f32") values. */
export interface PackedArray {
  dtype: "f64" | "f32";
  shape: number[];
  base64: string;
}

/** Decodes a packed array into a shape and a typed array of its own type. */
export function unpack(packed: PackedArray): {
  shape: number[];
  data: Float64Array | Float32Array;
} {
  const bytes = Buffer.from(packed.base64, "base64");
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const data = packed.dtype === "f64" ? new Float64Array(copy) : new Float32Array(copy);
  return { shape: packed.shape, data };
}

/** The sub-array at `index` along the leading dims of a row-major array. */
export function slab(values: StridedValues, index: readonly number[]): StridedValues {
  const shape = values.shape.slice(index.length);
  const inner = shape.reduce((a, b) => a * b, 1);
  let flat = 0;
  for (let d = 0; d < index.length; d++) flat = flat * values.shape[d] + index[d];
  return { shape, data: values.data, offset: (values.offset ?? 0) + flat * inner };
}

/** Flattens nested number arrays into a shape and a Float64Array. */
export function fromNested(values: unknown): StridedValues {
  const shape: number[] = [];
  let probe: unknown = values;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const data = (values as unknown[]).flat(Infinity as 1) as number[];
  return { shape, data: Float64Array.from(data) };
}
