// Agreement of dotattn's four attention functions with PyTorch 2.13.
//
// The float64 vectors in test/fixtures/sdpa/ come from
// scripts/gen_sdpa_vectors.py: PyTorch's scaled_dot_product_attention and
// autograd for every case without softcap, and an explicit float64 reference
// (checked against PyTorch on those cases) for the softcap cases.
// Each case runs in float64 and, with its inputs rounded to float32, in
// float32. Non-finite numbers are stored as the strings "NaN", "Infinity" and
// "-Infinity".

import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import {
  attentionBackward,
  memoryEfficientAttention,
  scaledDotProductAttention,
  tensor,
  traceAttention,
} from "../../src/index.js";
import type {
  AttentionOptions,
  DType,
  NestedBooleanArray,
  NestedNumberArray,
  Tensor,
} from "../../src/index.js";
import { assertClose, compareValues, describeComparison, valuesMatch } from "./helpers/compare.js";
import type { StridedValues, Tolerance } from "./helpers/compare.js";

/**
 * float64 against float64 PyTorch: both compute the same sums in a different
 * order. The largest difference measured on these vectors is 1.1e-15 (a dK
 * element), about 1000 times below this tolerance.
 */
const FLOAT64_TOLERANCE: Tolerance = { atol: 1e-12, rtol: 1e-12 };

/**
 * float32 against the float64 vectors. Rounding Q, K and V to float32 moves
 * each by up to u = 2^-24 (about 6e-8) relative. dotattn accumulates in
 * float64 and rounds each result once to float32, so the error comes almost
 * entirely from that input rounding, amplified where a score sum_e q_e k_e
 * cancels: the "large scores" case (inputs times 6, scores near 100) gives the
 * largest absolute error, 3.2e-6 on a score. rtol 2e-5 (about 330 u) and atol
 * 2e-6 for values near 0 put the worst element of every case, function and
 * tensor at 0.098 of its tolerance (measured with these vectors: max
 * |actual - expected| / (atol + rtol * |expected|), the "softcap 2" scores).
 * NOTE: an implementation that accumulates in float32 would need a looser
 * tolerance; this one is set for float64 accumulation.
 */
const FLOAT32_TOLERANCE: Tolerance = { atol: 2e-6, rtol: 2e-5 };

const FIXTURE_DIR = fileURLToPath(new URL("../fixtures/sdpa/", import.meta.url));

type EncodedNumber = number | "NaN" | "Infinity" | "-Infinity";

interface EncodedTensor {
  shape: number[];
  data: EncodedNumber[];
}

interface VectorCase {
  name: string;
  description: string;
  reference: string;
  crossCheck: string;
  inputs: {
    q: EncodedTensor;
    k: EncodedTensor;
    v: EncodedTensor;
    dOutput: EncodedTensor;
    mask: EncodedTensor | null;
  };
  options: {
    isCausal?: boolean;
    alignment?: "upper-left" | "lower-right";
    window?: [number | null, number | null];
    scale?: number;
    bias?: EncodedTensor;
    softcap?: number;
  };
  expected: Record<string, EncodedTensor>;
}

interface VectorFile {
  format: string;
  generator: { script: string; torch: string; python: string; seed: number; generated: string };
  cases: VectorCase[];
}

/** Decodes one stored number. Non-finite numbers are strings because JSON has none. */
function decodeNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  throw new TypeError(
    `decodeNumber: value is ${JSON.stringify(value)}; expected a number, "NaN", "Infinity" or "-Infinity"`,
  );
}

function decodeValues(encoded: EncodedTensor): StridedValues {
  return { shape: encoded.shape, data: Float64Array.from(encoded.data, decodeNumber) };
}

function toTensor(encoded: EncodedTensor, dtype: DType): Tensor {
  const values = Float64Array.from(encoded.data, decodeNumber);
  return tensor(dtype === "float64" ? values : Float32Array.from(values), { shape: encoded.shape });
}

/** Rebuilds nested arrays from flat row-major data (shapes without a zero dim). */
function toNested<T>(shape: readonly number[], data: readonly T[]): unknown {
  if (shape.length === 0) return data[0];
  const [first, ...rest] = shape;
  const step = data.length / first;
  return Array.from({ length: first }, (_, n) =>
    toNested(rest, data.slice(n * step, (n + 1) * step)),
  );
}

function loadVectorFiles(): { file: string; vectors: VectorFile }[] {
  return readdirSync(FIXTURE_DIR)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => ({
      file,
      vectors: JSON.parse(readFileSync(FIXTURE_DIR + file, "utf8")) as VectorFile,
    }));
}

interface CaseInputs {
  Q: Tensor;
  K: Tensor;
  V: Tensor;
  dOutput: Tensor;
  mask: Tensor | undefined;
  options: AttentionOptions;
}

function buildInputs(vector: VectorCase, dtype: DType): CaseInputs {
  const { inputs, options } = vector;
  const attentionOptions: AttentionOptions = {};
  if (options.isCausal !== undefined) attentionOptions.isCausal = options.isCausal;
  if (options.alignment !== undefined) attentionOptions.alignment = options.alignment;
  if (options.window !== undefined) attentionOptions.window = options.window;
  if (options.scale !== undefined) attentionOptions.scale = options.scale;
  if (options.softcap !== undefined) attentionOptions.softcap = options.softcap;
  if (options.bias !== undefined) attentionOptions.bias = toTensor(options.bias, dtype);
  return {
    Q: toTensor(inputs.q, dtype),
    K: toTensor(inputs.k, dtype),
    V: toTensor(inputs.v, dtype),
    dOutput: toTensor(inputs.dOutput, dtype),
    mask: inputs.mask === null ? undefined : toTensor(inputs.mask, dtype),
    options: attentionOptions,
  };
}

function checkTensor(
  label: string,
  actual: Tensor,
  expected: EncodedTensor,
  dtype: DType,
  tolerance: Tolerance,
): void {
  expect(actual.dtype, `${label} dtype`).toBe(dtype);
  assertClose(label, actual, decodeValues(expected), tolerance);
}

const vectorFiles = loadVectorFiles();

describe("PyTorch vector files", () => {
  it("are present and well formed", () => {
    expect(vectorFiles.length).toBeGreaterThan(0);
    for (const { file, vectors } of vectorFiles) {
      expect(vectors.generator.torch, file).toMatch(/^2\.13\.0/);
      expect(typeof vectors.generator.seed, file).toBe("number");
      expect(vectors.cases.length, file).toBeGreaterThan(0);
      for (const vector of vectors.cases) {
        for (const name of ["output", "weights", "dQ", "dK", "dV", "masked", "keep"]) {
          expect(vector.expected[name], `${file}: ${vector.name}: expected.${name}`).toBeDefined();
        }
      }
    }
  });

  it("have unique case names", () => {
    const names = vectorFiles.flatMap(({ vectors }) => vectors.cases.map((vector) => vector.name));
    expect(new Set(names).size).toBe(names.length);
  });
});

const DTYPES: { dtype: DType; tolerance: Tolerance }[] = [
  { dtype: "float64", tolerance: FLOAT64_TOLERANCE },
  { dtype: "float32", tolerance: FLOAT32_TOLERANCE },
];

for (const { file, vectors } of vectorFiles) {
  for (const vector of vectors.cases) {
    describe(`${file}: ${vector.name}`, () => {
      const { expected } = vector;

      for (const { dtype, tolerance } of DTYPES) {
        it(`scaledDotProductAttention ${dtype}`, () => {
          const { Q, K, V, mask, options } = buildInputs(vector, dtype);
          const { output, weights } = scaledDotProductAttention(Q, K, V, mask, options);
          checkTensor("output", output, expected.output, dtype, tolerance);
          checkTensor("weights", weights, expected.weights, dtype, tolerance);
        });

        it(`memoryEfficientAttention ${dtype}`, () => {
          const { Q, K, V, mask, options } = buildInputs(vector, dtype);
          const output = memoryEfficientAttention(Q, K, V, mask, options);
          checkTensor("output", output, expected.output, dtype, tolerance);
        });

        it(`traceAttention ${dtype}`, () => {
          const { Q, K, V, mask, options } = buildInputs(vector, dtype);
          const steps = traceAttention(Q, K, V, mask, options);
          // Cases whose K or V hold NaN store no scores or scaled logits.
          for (const name of ["scores", "scaled"] as const) {
            if (expected[name] !== undefined) {
              checkTensor(name, steps[name], expected[name], dtype, tolerance);
            }
          }
          checkTensor("masked", steps.masked, expected.masked, dtype, tolerance);
          checkTensor("keep", steps.keep, expected.keep, dtype, { atol: 0, rtol: 0 });
          checkTensor("weights", steps.weights, expected.weights, dtype, tolerance);
          checkTensor("output", steps.output, expected.output, dtype, tolerance);
        });

        it(`attentionBackward ${dtype}`, () => {
          const { Q, K, V, dOutput, mask, options } = buildInputs(vector, dtype);
          const { dQ, dK, dV } = attentionBackward(Q, K, V, dOutput, mask, options);
          checkTensor("dQ", dQ, expected.dQ, dtype, tolerance);
          checkTensor("dK", dK, expected.dK, dtype, tolerance);
          checkTensor("dV", dV, expected.dV, dtype, tolerance);
        });
      }
    });
  }
}

describe("nested-array inputs", () => {
  // The vectors pass tensors; this checks the nested-array path on one masked case.
  const vector = vectorFiles
    .flatMap(({ vectors }) => vectors.cases)
    .find((candidate) => candidate.name === "mask (L, S)");

  it("match PyTorch for a boolean mask", () => {
    expect(vector).toBeDefined();
    const { inputs, expected } = vector!;
    const nestedNumbers = (encoded: EncodedTensor) =>
      toNested(encoded.shape, encoded.data.map(decodeNumber)) as NestedNumberArray;
    const mask = toNested(
      inputs.mask!.shape,
      inputs.mask!.data.map((value) => value === 1),
    ) as NestedBooleanArray;

    const { output, weights } = scaledDotProductAttention(
      nestedNumbers(inputs.q),
      nestedNumbers(inputs.k),
      nestedNumbers(inputs.v),
      mask,
    );
    checkTensor("output", output, expected.output, "float64", FLOAT64_TOLERANCE);
    checkTensor("weights", weights, expected.weights, "float64", FLOAT64_TOLERANCE);
  });
});

describe("assertClose", () => {
  const tolerance: Tolerance = { atol: 1e-6, rtol: 1e-3 };
  const values = (data: number[], shape = [data.length]): StridedValues => ({ shape, data });

  it("passes values within atol + rtol * |expected|", () => {
    const comparison = assertClose("x", values([1000.9, 1e-7]), values([1000, 0]), tolerance);
    expect(comparison.mismatches).toHaveLength(0);
    expect(comparison.maxAbsDifference).toBeCloseTo(0.9, 10);
  });

  it("fails just outside the tolerance", () => {
    expect(() => assertClose("x", values([1001.1]), values([1000]), tolerance)).toThrow(
      /1 of 1 elements differ/,
    );
    expect(() => assertClose("x", values([2e-6]), values([0]), tolerance)).toThrow(/differ/);
  });

  it("fails on NaN against NaN", () => {
    expect(valuesMatch(NaN, NaN, tolerance)).toBe(false);
    expect(() => assertClose("x", values([NaN]), values([NaN]), tolerance)).toThrow(
      /actual NaN, expected NaN/,
    );
  });

  it("fails on NaN against a number", () => {
    expect(() => assertClose("x", values([NaN]), values([1]), tolerance)).toThrow(/actual NaN/);
    expect(() => assertClose("x", values([1]), values([NaN]), tolerance)).toThrow(/expected NaN/);
    expect(() => assertClose("x", values([NaN]), values([Infinity]), tolerance)).toThrow(
      /actual NaN, expected Infinity/,
    );
  });

  it("fails on Infinity against a finite value", () => {
    expect(() => assertClose("x", values([Infinity]), values([1e308]), tolerance)).toThrow(
      /actual Infinity, expected 1e\+308/,
    );
    expect(() => assertClose("x", values([5]), values([-Infinity]), tolerance)).toThrow(
      /actual 5, expected -Infinity, tolerance exact/,
    );
    expect(() => assertClose("x", values([Infinity]), values([-Infinity]), tolerance)).toThrow(
      /differ/,
    );
  });

  it("passes equal infinities", () => {
    const comparison = assertClose(
      "x",
      values([Infinity, -Infinity]),
      values([Infinity, -Infinity]),
      tolerance,
    );
    expect(comparison.mismatches).toHaveLength(0);
  });

  it("fails on a shape mismatch", () => {
    expect(() =>
      assertClose(
        "x",
        values([1, 2, 3, 4, 5, 6], [2, 3]),
        values([1, 2, 3, 4, 5, 6], [3, 2]),
        tolerance,
      ),
    ).toThrow("x: shape [2, 3], expected [3, 2]");
    expect(() => assertClose("x", values([1, 2], [2]), values([1, 2], [1, 2]), tolerance)).toThrow(
      "x: shape [2], expected [1, 2]",
    );
    expect(() => assertClose("x", values([], [0, 3]), values([], [3, 0]), tolerance)).toThrow(
      /shape \[0, 3\], expected \[3, 0\]/,
    );
  });

  it("names flat index, multi-index, actual, expected and tolerance", () => {
    const actual = values([0, 1, 2, 3, 4, 9], [2, 3]);
    const expected = values([0, 1, 2, 3, 4, 5], [2, 3]);
    const message = describeComparison("weights", compareValues(actual, expected, tolerance));
    expect(message).toBe(
      "weights: 1 of 6 elements differ (max |difference| over finite pairs 4)\n" +
        `  element 5 at [1, 2]: actual 9, expected 5, tolerance ${1e-6 + 1e-3 * 5}`,
    );
  });

  it("reads strided views", () => {
    // A [3, 2] transposed view of row-major [[1, 2, 3], [4, 5, 6]] starting at offset 1.
    const view: StridedValues = {
      shape: [3, 2],
      strides: [1, 3],
      offset: 1,
      data: [99, 1, 2, 3, 4, 5, 6],
    };
    const comparison = assertClose("t", view, values([1, 4, 2, 5, 3, 6], [3, 2]), tolerance);
    expect(comparison.size).toBe(6);
    expect(() => assertClose("t", view, values([1, 2, 3, 4, 5, 6], [3, 2]), tolerance)).toThrow(
      /element 1 at \[0, 1\]: actual 4, expected 2/,
    );
  });
});

describe("decodeNumber", () => {
  it("decodes the non-finite strings", () => {
    expect(decodeNumber("NaN")).toBeNaN();
    expect(decodeNumber("Infinity")).toBe(Infinity);
    expect(decodeNumber("-Infinity")).toBe(-Infinity);
    expect(decodeNumber(-0.5)).toBe(-0.5);
  });

  it("rejects other strings", () => {
    expect(() => decodeNumber("inf")).toThrow(TypeError);
    expect(() => decodeNumber("inf")).toThrow(/decodeNumber: value is "inf"; expected a number/);
  });
});
