import { describe, expect, it } from "vitest";

import { parseSafetensors, readSafetensors } from "../../src/model/safetensors.js";
import { findMiniLMDir } from "../../src/model/locate.js";
import { join } from "node:path";

/** Builds a safetensors file from a header object and raw data bytes. */
function build(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const text = headerText ?? JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

describe("parseSafetensors", () => {
  it("reads float and integer tensors", () => {
    const f32 = new Float32Array([1.5, -2, 3.25, 0]);
    const f64 = new Float64Array([Math.PI, -1e-300]);
    const i64 = new BigInt64Array([-3n, 2n ** 40n]);
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001]); // 1, -2, Infinity, 2^-24
    const bf16 = new Uint16Array([0x3f80, 0x4049]); // 1, 3.140625
    const parts = [bytesOf(f32), bytesOf(f64), bytesOf(i64), bytesOf(f16), bytesOf(bf16)];
    const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let cursor = 0;
    const offsets: [number, number][] = [];
    for (const p of parts) {
      data.set(p, cursor);
      offsets.push([cursor, cursor + p.length]);
      cursor += p.length;
    }
    const header = {
      __metadata__: { format: "pt" },
      a: { dtype: "F32", shape: [2, 2], data_offsets: offsets[0] },
      b: { dtype: "F64", shape: [2], data_offsets: offsets[1] },
      c: { dtype: "I64", shape: [2], data_offsets: offsets[2] },
      d: { dtype: "F16", shape: [4], data_offsets: offsets[3] },
      e: { dtype: "BF16", shape: [1, 2], data_offsets: offsets[4] },
    };
    const file = parseSafetensors(build(header, data));
    expect(file.names()).toEqual(["a", "b", "c", "d", "e"]);
    expect(file.metadata).toEqual({ format: "pt" });
    expect(file.tensor("a").toArray()).toEqual([
      [1.5, -2],
      [3.25, 0],
    ]);
    expect(file.tensor("a").dtype).toBe("float32");
    expect(file.tensor("b", { dtype: "float64" }).toArray()).toEqual([Math.PI, -1e-300]);
    expect(file.tensor("c", { dtype: "float64" }).toArray()).toEqual([-3, 2 ** 40]);
    expect(file.tensor("d", { dtype: "float64" }).toArray()).toEqual([1, -2, Infinity, 2 ** -24]);
    expect(file.tensor("e", { dtype: "float64" }).toArray()).toEqual([[1, 3.140625]]);
  });

  it("accepts a header padded with spaces and an empty file", () => {
    const file = parseSafetensors(build(null, new Uint8Array(0), "{}    "));
    expect(file.names()).toEqual([]);
  });

  it("reads the model's weights", () => {
    const file = readSafetensors(join(findMiniLMDir(), "model.safetensors"));
    expect(file.entries.get("embeddings.word_embeddings.weight")?.shape).toEqual([30522, 384]);
    const gamma = file.tensor("embeddings.LayerNorm.weight");
    expect(gamma.shape).toEqual([384]);
    expect(Array.from(gamma.data).every(Number.isFinite)).toBe(true);
  });

  const valid = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      "not bytes",
      () => parseSafetensors("abc" as never),
      TypeError,
      /parseSafetensors: bytes is "abc"; expected a Uint8Array/,
    ],
    [
      "too short",
      () => parseSafetensors(new Uint8Array(4)),
      RangeError,
      /file is 4 bytes long; expected at least 8/,
    ],
    [
      "header longer than file",
      () => {
        const bytes = build(valid, eight);
        new DataView(bytes.buffer).setBigUint64(0, 10_000n, true);
        return parseSafetensors(bytes, "x.safetensors");
      },
      RangeError,
      /x\.safetensors: header length is 10000 bytes, but the file has \d+ bytes/,
    ],
    [
      "header not an object",
      () => parseSafetensors(build(null, eight, "[1, 2]")),
      RangeError,
      /header does not start with "\{"/,
    ],
    [
      "header not JSON",
      () => parseSafetensors(build(null, eight, "{oops")),
      RangeError,
      /header is not valid JSON/,
    ],
    [
      "unknown dtype",
      () =>
        parseSafetensors(build({ a: { dtype: "F8", shape: [8], data_offsets: [0, 8] } }, eight)),
      RangeError,
      /tensor "a"\.dtype is "F8"; expected one of F64, F32/,
    ],
    [
      "bad shape",
      () =>
        parseSafetensors(build({ a: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, eight)),
      RangeError,
      /tensor "a"\.shape is an array of length 1; expected an array of integers >= 0/,
    ],
    [
      "offsets past the end",
      () =>
        parseSafetensors(build({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, eight)),
      RangeError,
      /tensor "a"\.data_offsets is \[0,16\]; expected \[begin, end\] with 0 <= begin <= end <= 8/,
    ],
    [
      "size does not match shape",
      () =>
        parseSafetensors(build({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, eight)),
      RangeError,
      /tensor "a" has shape \[3\] and dtype F32, which need 12 bytes, but data_offsets \[0, 8\] span 8/,
    ],
    [
      "gap",
      () =>
        parseSafetensors(build({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, eight)),
      RangeError,
      /tensor "a" starts at byte 4, which leaves a gap before it \(expected 0\)/,
    ],
    [
      "overlap",
      () =>
        parseSafetensors(
          build(
            {
              a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
              b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
            },
            eight,
          ),
        ),
      RangeError,
      /starts at byte 4, which overlaps the previous tensor/,
    ],
    [
      "data not covered",
      () => parseSafetensors(build({}, eight)),
      RangeError,
      /the tensors cover 0 bytes, but the data section has 8/,
    ],
    [
      "metadata not strings",
      () => parseSafetensors(build({ __metadata__: { n: 1 }, ...valid }, eight)),
      RangeError,
      /__metadata__\.n is 1; expected a string/,
    ],
    [
      "missing tensor",
      () => parseSafetensors(build(valid, eight)).tensor("b"),
      RangeError,
      /SafetensorsFile\.tensor: buffer has no tensor named "b"/,
    ],
    [
      "name not a string",
      () => parseSafetensors(build(valid, eight)).tensor(1 as never),
      TypeError,
      /name is 1; expected a tensor name/,
    ],
    [
      "dtype unknown",
      () => parseSafetensors(build(valid, eight)).tensor("a", { dtype: "int32" as never }),
      TypeError,
      /options\.dtype is "int32"/,
    ],
    [
      "path not a string",
      () => readSafetensors(3 as never),
      TypeError,
      /readSafetensors: path is 3; expected a file path/,
    ],
  ];
  for (const [name, run, kind, message] of cases) {
    it(`rejects ${name}`, () => {
      expect(run).toThrow(kind);
      expect(run).toThrow(message);
    });
  }
});
