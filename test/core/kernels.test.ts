// The blocked kernels at their block boundaries, against the plain float64
// reference in float64 and float32. Sizes sit just below, at and just above
// the register tile (4 query rows), the key block and query tile of
// memoryEfficientAttention (64) and the key block of the weights-times-V
// product (512).

import { describe, expect, it } from "vitest";
import {
  memoryEfficientAttention,
  randn,
  scaledDotProductAttention,
  tensor,
  type AttentionOptions,
} from "../../src/index.js";
import { expNonPositive, TILE_ROWS } from "../../src/attention/blocked.js";
import { KEY_BLOCK, QUERY_TILE } from "../../src/attention/memoryEfficient.js";
import { assertClose } from "./helpers/compare.js";
import { roundToFloat32, toArguments } from "./problems.js";
import { referenceAttention, type Dense, type Problem } from "./reference.js";

const FLOAT64 = { atol: 1e-12, rtol: 1e-12 };
// Inputs rounded to float32, float64 arithmetic inside, one rounding of the
// result to float32: the same bound as the property tests.
const FLOAT32 = { atol: 1e-6, rtol: 1e-6 };

function dense(shape: number[], seed: number): Dense {
  return { shape, data: randn(shape, { seed }).data as Float64Array };
}

/** Returns a random keep-mask (L, S) with about a quarter of the keys masked. */
function randomMask(L: number, S: number, seed: number): Dense {
  const u = randn([L, S], { seed }).data;
  return { shape: [L, S], data: Float64Array.from(u, (x) => (x > -0.67 ? 1 : 0)) };
}

const SIZES: [number, number][] = [
  [1, 1],
  [TILE_ROWS - 1, TILE_ROWS + 1],
  [TILE_ROWS + 1, KEY_BLOCK - 1],
  [QUERY_TILE - 1, KEY_BLOCK],
  [QUERY_TILE + 1, KEY_BLOCK + 1],
  [QUERY_TILE + 3, 2 * KEY_BLOCK + 1],
  [9, 513],
];

const VARIANTS: [string, (L: number, S: number) => Partial<Problem>][] = [
  ["no mask", () => ({})],
  ["causal", () => ({ isCausal: true })],
  ["causal lower-right", () => ({ isCausal: true, alignment: "lower-right" as const })],
  ["window [5, 2]", () => ({ window: [5, 2] as [number, number] })],
  ["keep-mask", (L, S) => ({ mask: randomMask(L, S, 11) })],
  ["bias and softcap", (L, S) => ({ bias: dense([L, S], 12), softcap: 2, scale: 0.9 })],
];

describe("blocked kernels at block boundaries", () => {
  for (const [L, S] of SIZES) {
    for (const [name, variant] of VARIANTS) {
      // E and Ev odd, so the 2-wide register tiles hit their tails too.
      const problem: Problem = {
        Q: dense([2, L, 7], L * 31 + S),
        K: dense([2, S, 7], L * 37 + S),
        V: dense([2, S, 5], L * 41 + S),
        ...variant(L, S),
      };

      it(`L ${L}, S ${S}, ${name}, float64`, () => {
        const { Q, K, V, mask, options } = toArguments({ problem, maskForm: "tensor" });
        const expected = referenceAttention(problem);
        const { output, weights } = scaledDotProductAttention(Q, K, V, mask, options);
        assertClose("output", output, expected.output, FLOAT64);
        assertClose("weights", weights, expected.weights, FLOAT64);
        const online = memoryEfficientAttention(Q, K, V, mask, options);
        assertClose("memory-efficient output", online, expected.output, FLOAT64);
      });

      it(`L ${L}, S ${S}, ${name}, float32`, () => {
        const rounded = roundToFloat32(problem);
        const c = { problem: rounded, maskForm: "tensor" as const };
        const { Q, K, V, mask, options } = toArguments(c, "float32");
        const expected = referenceAttention(rounded);
        const { output, weights } = scaledDotProductAttention(Q, K, V, mask, options);
        expect(output.dtype).toBe("float32");
        assertClose("output", output, expected.output, FLOAT32);
        assertClose("weights", weights, expected.weights, FLOAT32);
        const online = memoryEfficientAttention(Q, K, V, mask, options);
        expect(online.dtype).toBe("float32");
        assertClose("memory-efficient output", online, expected.output, FLOAT32);
      });
    }
  }
});

describe("masked keys holding NaN", () => {
  // Keys past a causal band or masked by the mask contain NaN in K and V, as
  // a padded batch would. None of it may reach the output.
  const L = QUERY_TILE + 5;
  const S = 2 * KEY_BLOCK + 3;
  const valid = S - 6;

  function withNaNPadding(dtype: "float64" | "float32") {
    const K = randn([S, 6], { seed: 1, dtype });
    const V = randn([S, 3], { seed: 2, dtype });
    const Kp = K.data.slice();
    const Vp = V.data.slice();
    Kp.fill(NaN, valid * 6);
    Vp.fill(NaN, valid * 3);
    const mask = Array.from({ length: L }, () => Array.from({ length: S }, (_, j) => j < valid));
    return {
      Q: randn([L, 6], { seed: 3, dtype }),
      K: tensor(Kp, { shape: [S, 6] }),
      V: tensor(Vp, { shape: [S, 3] }),
      Kclean: tensor(K.data.slice(0, valid * 6), { shape: [valid, 6] }),
      Vclean: tensor(V.data.slice(0, valid * 3), { shape: [valid, 3] }),
      mask,
    };
  }

  for (const dtype of ["float64", "float32"] as const) {
    it(`keep-mask over NaN keys, ${dtype}`, () => {
      const { Q, K, V, Kclean, Vclean, mask } = withNaNPadding(dtype);
      const expected = scaledDotProductAttention(Q, Kclean, Vclean).output;
      const { output, weights } = scaledDotProductAttention(Q, K, V, mask);
      expect(output.data.every(Number.isFinite)).toBe(true);
      expect(weights.data.every(Number.isFinite)).toBe(true);
      assertClose("output", output, expected, { atol: 0, rtol: 0 });
      const online = memoryEfficientAttention(Q, K, V, mask);
      expect(online.data.every(Number.isFinite)).toBe(true);
      assertClose("memory-efficient output", online, expected, FLOAT64);
    });
  }

  it("causal band over NaN keys", () => {
    // Query i sees keys 0 ..= i. The register tile of the last query before
    // the padding also holds queries that see the NaN keys, so the kernels
    // compute scores for NaN keys that the earlier query must not use.
    const { K, V, Kclean, Vclean } = withNaNPadding("float64");
    expect(valid % TILE_ROWS).not.toBe(0);
    const Q = randn([S, 6], { seed: 3 });
    const Qclean = tensor(Q.data.slice(0, valid * 6), { shape: [valid, 6] });
    const options: AttentionOptions = { isCausal: true };
    const expected = scaledDotProductAttention(Qclean, Kclean, Vclean, null, options);
    const firstRows = (t: { data: ArrayLike<number> }, width: number) =>
      tensor(Float64Array.from(t.data).slice(0, valid * width), { shape: [valid, width] });

    const exact = scaledDotProductAttention(Q, K, V, null, options);
    assertClose("output", firstRows(exact.output, 3), expected.output, FLOAT64);
    assertClose(
      "weights",
      firstRows(exact.weights, S).reshape([valid, S]),
      padWeights(expected.weights),
      FLOAT64,
    );
    const online = memoryEfficientAttention(Q, K, V, null, options);
    assertClose("memory-efficient output", firstRows(online, 3), expected.output, FLOAT64);
  });

  /** Clean weights (valid, valid) padded with zero columns to (valid, S). */
  function padWeights(w: { data: ArrayLike<number> }) {
    const out = new Float64Array(valid * S);
    for (let i = 0; i < valid; i++) {
      for (let j = 0; j < valid; j++) out[i * S + j] = w.data[i * valid + j];
    }
    return tensor(out, { shape: [valid, S] });
  }
});

describe("kernels are deterministic", () => {
  it("two runs give identical bits", () => {
    const Q = randn([2, 70, 16], { seed: 5, dtype: "float32" });
    const K = randn([2, 130, 16], { seed: 6, dtype: "float32" });
    const V = randn([2, 130, 8], { seed: 7, dtype: "float32" });
    const first = scaledDotProductAttention(Q, K, V, null, { isCausal: true });
    const second = scaledDotProductAttention(Q, K, V, null, { isCausal: true });
    assertClose("output", second.output, first.output, { atol: 0, rtol: 0 });
    assertClose("weights", second.weights, first.weights, { atol: 0, rtol: 0 });
    const online = memoryEfficientAttention(Q, K, V);
    assertClose("memory-efficient", memoryEfficientAttention(Q, K, V), online, {
      atol: 0,
      rtol: 0,
    });
  });
});

describe("expNonPositive", () => {
  it("is within 4 ulp of Math.exp on [-708, 0]", () => {
    const ulp = 2 ** -52;
    let worst = 0;
    let worstX = 0;
    for (let t = 0; t <= 200_000; t++) {
      const x = -708 * (t / 200_000) ** 2;
      const expected = Math.exp(x);
      const relative = Math.abs(expNonPositive(x) - expected) / expected;
      if (relative > worst) {
        worst = relative;
        worstX = x;
      }
    }
    expect(worst / ulp, `worst at x = ${worstX}`).toBeLessThanOrEqual(4);
  });

  it("handles the special values", () => {
    expect(expNonPositive(0)).toBe(1);
    expect(expNonPositive(-0)).toBe(1);
    expect(expNonPositive(-Infinity)).toBe(0);
    expect(expNonPositive(NaN)).toBeNaN();
    expect(expNonPositive(-750)).toBe(0);
    expect(expNonPositive(-720)).toBe(Math.exp(-720));
  });
});
