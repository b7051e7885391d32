// The WebAssembly SIMD kernels against the TypeScript kernels on the same
// inputs. Both sum every output in the same order without fused
// multiply-add, so the check is bit equality (NaN matching NaN), which is
// stricter than the float32 tolerance. The WebAssembly path is also held to
// the float64 reference within the documented tolerances. Sizes sit at the
// register tiles (4 rows, 4 keys, 4 and 2 value features), the key block
// and query tile of memoryEfficientAttention (64) and the key block of the
// weights-times-V product (512).

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  memoryEfficientAttention,
  randn,
  scaledDotProductAttention,
  tensor,
  type DType,
  type MaskLike,
  type Tensor,
} from "../../src/index.js";
import { dotTile, TILE_ROWS, weightTile } from "../../src/attention/blocked.js";
import { KEY_BLOCK, QUERY_TILE } from "../../src/attention/memoryEfficient.js";
import {
  loadWasmKernels,
  selectWasmKernels,
  wasmRequested,
  type WasmKernels,
} from "../../src/attention/wasm/kernels.js";
import { assertClose } from "./helpers/compare.js";
import { roundToFloat32, toArguments } from "./problems.js";
import { referenceAttention, type Dense, type Problem } from "./reference.js";

const FLOAT64 = { atol: 1e-12, rtol: 1e-12 };
const FLOAT32 = { atol: 1e-6, rtol: 1e-6 };

/** Fails with the first index whose bits differ (NaN matches NaN, 0 does not match -0). */
function expectSameBits(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>) {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      expect.fail(`${label}: index ${i}: wasm ${actual[i]}, TypeScript ${expected[i]}`);
    }
  }
}

/** Runs `fn` with DOTATTN_WASM set to "1" or "0". */
function withWasm<T>(enabled: boolean, fn: () => T): T {
  const previous = process.env.DOTATTN_WASM;
  process.env.DOTATTN_WASM = enabled ? "1" : "0";
  try {
    return fn();
  } finally {
    if (previous === undefined) delete process.env.DOTATTN_WASM;
    else process.env.DOTATTN_WASM = previous;
  }
}

/** Random values with a seed, sprinkled with the given special values. */
function values(length: number, seed: number, specials: number[] = []): Float64Array {
  const data = Float64Array.from(randn([length], { seed }).data);
  specials.forEach((x, t) => {
    if (length > 0) data[(t * 7919 + seed) % length] = x;
  });
  return data;
}

function requireKernels(): WasmKernels {
  const kernels = loadWasmKernels();
  if (kernels === null) throw new Error("WebAssembly SIMD is unavailable in this Node");
  return kernels;
}

describe("wasm kernel selection", () => {
  let previous: string | undefined;
  beforeEach(() => {
    previous = process.env.DOTATTN_WASM;
  });
  afterEach(() => {
    if (previous === undefined) delete process.env.DOTATTN_WASM;
    else process.env.DOTATTN_WASM = previous;
  });

  it("loads in Node 20", () => {
    expect(loadWasmKernels()).not.toBeNull();
  });

  it("DOTATTN_WASM=0 turns it off", () => {
    delete process.env.DOTATTN_WASM;
    expect(wasmRequested()).toBe(true);
    process.env.DOTATTN_WASM = "0";
    expect(wasmRequested()).toBe(false);
    expect(selectWasmKernels(wasmRequested())).toBeNull();
    process.env.DOTATTN_WASM = "1";
    expect(selectWasmKernels(wasmRequested())).toBe(loadWasmKernels());
  });

  it("scratch too large returns null", () => {
    // 2^28 float64 values are 2 GiB, past what the kernels address.
    expect(requireKernels().scratch([2 ** 28], 4)).toBeNull();
  });
});

describe("wasm dotTile against TypeScript", () => {
  const S = 37;
  const RANGES: [number, number][] = [
    [0, 0],
    [0, 1],
    [0, 3],
    [0, 4],
    [1, 6],
    [2, 9],
    [3, S],
  ];
  const SPECIALS = [NaN, Infinity, -Infinity, -0, 5e-324, 1e300];

  for (const len of [1, 2, 3, 7, 64, 65]) {
    for (const specials of [[], SPECIALS]) {
      const kind = specials.length === 0 ? "finite" : "special values";
      it(`len ${len}, ${kind}`, () => {
        const kernels = requireKernels();
        const E = len + 2; // row stride larger than len
        const a = values(TILE_ROWS * E, len, specials);
        const bSource = values(S * E, len + 100, specials);
        const [b, out] = kernels.scratch([S * E, TILE_ROWS * S], len) as Float64Array[];
        for (const [n0, n1] of RANGES) {
          b.set(bSource);
          out.fill(-7);
          const expected = new Float64Array(TILE_ROWS * S).fill(-7);
          dotTile(a, 1, E, bSource, 0, E, len, n0, n1, expected, 0, S, false);
          kernels.dotTile(a, 1, E, b, 0, E, len, n0, n1, out, 0, S);
          expectSameBits(`keys ${n0} .. ${n1}`, out, expected);
        }
      });
    }
  }

  it("negative bases address blocks", () => {
    // memoryEfficientAttention passes base = -j0 so key j sits at index j - j0.
    const kernels = requireKernels();
    const [E, j0, j1] = [5, 64, 128];
    const a = values(TILE_ROWS * E, 1);
    const bSource = values((j1 - j0) * E, 2);
    const [b, out] = kernels.scratch([(j1 - j0) * E, TILE_ROWS * (j1 - j0)], E) as Float64Array[];
    b.set(bSource);
    out.fill(0); // the scratch holds what earlier tests left
    const expected = new Float64Array(TILE_ROWS * (j1 - j0));
    dotTile(a, 0, E, bSource, -j0 * E, E, E, j0 + 3, j1 - 2, expected, -j0, j1 - j0, false);
    kernels.dotTile(a, 0, E, b, -j0 * E, E, E, j0 + 3, j1 - 2, out, -j0, j1 - j0);
    expectSameBits("block", out, expected);
  });
});

describe("wasm weightTile against TypeScript", () => {
  // S crosses the 512-key block twice; the ranges start and end off it.
  const S = 1100;
  const RANGES: [number, number][] = [
    [0, 0],
    [2, 3],
    [0, 512],
    [0, 513],
    [5, S],
  ];

  for (const Ev of [1, 2, 3, 4, 5, 6, 7, 63, 64, 65]) {
    it(`Ev ${Ev}`, () => {
      const kernels = requireKernels();
      const wSource = values(TILE_ROWS * S, Ev);
      const v = values(S * Ev, Ev + 100);
      const vt = new Float64Array(Ev * S);
      for (let j = 0; j < S; j++) for (let e = 0; e < Ev; e++) vt[e * S + j] = v[j * Ev + e];
      const start = values(TILE_ROWS * Ev, Ev + 200); // the sums add to what acc holds
      const [w, vWasm, acc] = kernels.scratch(
        [TILE_ROWS * S, S * Ev, TILE_ROWS * Ev],
        1,
      ) as Float64Array[];
      w.set(wSource);
      vWasm.set(v);
      for (const [j0, j1] of RANGES) {
        acc.set(start);
        const expected = start.slice();
        weightTile(wSource, 0, S, vt, 0, S, Ev, j0, j1, expected, 0);
        kernels.weightTile(w, 0, S, vWasm, 0, Ev, Ev, j0, j1, acc, 0);
        expectSameBits(`keys ${j0} .. ${j1}`, acc, expected);
      }
    });
  }

  it("rejects arrays outside its memory", () => {
    const kernels = requireKernels();
    const [w, v] = kernels.scratch([TILE_ROWS * 4, 4], 1) as Float64Array[];
    const outside = new Float64Array(TILE_ROWS);
    expect(() => kernels.weightTile(w, 0, 4, v, 0, 1, 1, 0, 4, outside, 0)).toThrow(TypeError);
    expect(() => kernels.weightTile(w, 0, 4, v, 0, 1, 1, 0, 4, outside, 0)).toThrow(
      /^WasmKernels\.weightTile: acc must be a Float64Array from scratch\(\) .* got one on another buffer of 32 bytes$/,
    );
  });

  it("dotTile rejects len above the scratch's", () => {
    const kernels = requireKernels();
    const [b, out] = kernels.scratch([8 * 4, TILE_ROWS * 4], 3) as Float64Array[];
    const a = new Float64Array(TILE_ROWS * 8);
    expect(() => kernels.dotTile(a, 0, 8, b, 0, 8, 8, 0, 4, out, 0, 4)).toThrow(RangeError);
    expect(() => kernels.dotTile(a, 0, 8, b, 0, 8, 8, 0, 4, out, 0, 4)).toThrow(
      "WasmKernels.dotTile: len must be at most the 3 query features given to scratch(), got 8",
    );
  });
});

function dense(shape: number[], seed: number): Dense {
  return { shape, data: randn(shape, { seed }).data as Float64Array };
}

function randomMask(L: number, S: number, seed: number): Dense {
  const u = randn([L, S], { seed }).data;
  return { shape: [L, S], data: Float64Array.from(u, (x) => (x > -0.67 ? 1 : 0)) };
}

/** [batch, L, S, E, Ev]: tails of every tile, and both key blocks. */
const SHAPES: [number, number, number, number, number][] = [
  [1, 1, 1, 1, 1],
  [2, TILE_ROWS + 1, TILE_ROWS + 3, 3, 2],
  [1, QUERY_TILE + 5, 2 * KEY_BLOCK + 3, 7, 5],
  [2, 9, 513, 64, 65],
];

const VARIANTS: [string, (L: number, S: number) => Partial<Problem>][] = [
  ["no mask", () => ({})],
  ["causal", () => ({ isCausal: true })],
  ["causal lower-right", () => ({ isCausal: true, alignment: "lower-right" as const })],
  ["window [5, 2]", () => ({ window: [5, 2] as [number, number] })],
  ["keep-mask", (L, S) => ({ mask: randomMask(L, S, 11) })],
  ["bias and softcap", (L, S) => ({ bias: dense([L, S], 12), softcap: 2, scale: 0.9 })],
];

interface Outputs {
  output: Tensor;
  weights: Tensor;
  online: Tensor;
}

function attend(
  enabled: boolean,
  Q: Tensor,
  K: Tensor,
  V: Tensor,
  mask: MaskLike | undefined,
  options: object,
): Outputs {
  return withWasm(enabled, () => {
    const { output, weights } = scaledDotProductAttention(Q, K, V, mask, options);
    const online = memoryEfficientAttention(Q, K, V, mask, options);
    return { output, weights, online };
  });
}

describe("attention with and without wasm", () => {
  for (const [B, L, S, E, Ev] of SHAPES) {
    for (const [name, variant] of VARIANTS) {
      for (const dtype of ["float64", "float32"] as DType[]) {
        it(`[${B}, ${L}, ${S}, ${E}, ${Ev}], ${name}, ${dtype}`, () => {
          const seed = L * 31 + S * 7 + E;
          let problem: Problem = {
            Q: dense([B, L, E], seed),
            K: dense([B, S, E], seed + 1),
            V: dense([B, S, Ev], seed + 2),
            ...variant(L, S),
          };
          if (dtype === "float32") problem = roundToFloat32(problem);
          const args = toArguments({ problem, maskForm: "tensor" }, dtype);
          const { Q, K, V, mask, options } = args;

          const wasm = attend(true, Q, K, V, mask, options);
          const plain = attend(false, Q, K, V, mask, options);
          expectSameBits("output", wasm.output.data, plain.output.data);
          expectSameBits("weights", wasm.weights.data, plain.weights.data);
          expectSameBits("memory-efficient output", wasm.online.data, plain.online.data);

          const expected = referenceAttention(problem);
          const tolerance = dtype === "float64" ? FLOAT64 : FLOAT32;
          assertClose("output", wasm.output, expected.output, tolerance);
          assertClose("weights", wasm.weights, expected.weights, tolerance);
          assertClose("memory-efficient output", wasm.online, expected.output, tolerance);
        });
      }
    }
  }
});

describe("wasm with NaN in masked keys", () => {
  // Keys from `valid` on hold NaN in K and V and are masked for every query,
  // and the first query row is fully masked. The larger case crosses the
  // 512-key block of the weights-times-V product.
  for (const [L, S, E, Ev] of [
    [QUERY_TILE + 5, 2 * KEY_BLOCK + 3, 6, 3],
    [600, 600, 64, 64],
  ]) {
    for (const dtype of ["float64", "float32"] as DType[]) {
      it(`L ${L}, S ${S}, ${dtype}`, () => {
        const valid = S - 6;
        const Kp = randn([2, S, E], { seed: 1, dtype }).data.slice();
        const Vp = randn([2, S, Ev], { seed: 2, dtype }).data.slice();
        for (let b = 0; b < 2; b++) {
          Kp.fill(NaN, (b * S + valid) * E, (b + 1) * S * E);
          Vp.fill(NaN, (b * S + valid) * Ev, (b + 1) * S * Ev);
        }
        const Q = randn([2, L, E], { seed: 3, dtype });
        const K = tensor(Kp, { shape: [2, S, E] });
        const V = tensor(Vp, { shape: [2, S, Ev] });
        const mask = Array.from({ length: L }, (_, i) =>
          Array.from({ length: S }, (_, j) => i > 0 && j < valid),
        );

        for (const options of [{}, { isCausal: true, alignment: "lower-right" as const }]) {
          const wasm = attend(true, Q, K, V, mask, options);
          const plain = attend(false, Q, K, V, mask, options);
          expect(wasm.output.data.every(Number.isFinite)).toBe(true);
          expect(wasm.weights.data.every(Number.isFinite)).toBe(true);
          expect(wasm.online.data.every(Number.isFinite)).toBe(true);
          for (const b of [0, 1]) {
            const row = wasm.output.data.subarray(b * L * Ev, b * L * Ev + Ev);
            expect(row.every((x) => x === 0)).toBe(true);
          }
          expectSameBits("output", wasm.output.data, plain.output.data);
          expectSameBits("weights", wasm.weights.data, plain.weights.data);
          expectSameBits("memory-efficient output", wasm.online.data, plain.online.data);
        }
      });
    }
  }
});
