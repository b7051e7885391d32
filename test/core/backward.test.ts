// The tiled attentionBackward against the row-wise reference it replaced
// (runBackwardRows). The shapes cross the tile and block boundaries: 4 query
// rows per tile, 4 keys per dK/dV tile and blocks of up to 64 query rows.
// The cases also cover odd feature counts, broadcast batch dims, every
// option, both dtypes and both kernel paths (WebAssembly and TypeScript).
// The two paths differ only in rounding (another exp, sums in blocks), so a
// float64 gradient must be within 1e-12 of the reference relative to the
// largest entry of that gradient, and NaN must sit in the same places.

import { afterEach, describe, expect, it } from "vitest";
import {
  attentionBackward,
  randn,
  tensor,
  type AttentionOptions,
  type DType,
  type Tensor,
} from "../../src/index.js";
import { runBackward, runBackwardRows } from "../../src/attention/backward.js";
import { normalizeAttention, normalizeOutputGradient } from "../../src/normalize.js";

const TOLERANCE: Record<DType, number> = { float64: 1e-12, float32: 1e-6 };

/** Fails unless `actual` is within `tolerance` times the largest |expected| entry, NaN for NaN. */
function expectClose(label: string, actual: Tensor, expected: Tensor, tolerance: number): void {
  expect(actual.shape, `${label}: shape`).toEqual(expected.shape);
  expect(actual.dtype, `${label}: dtype`).toBe(expected.dtype);
  const a = actual.data;
  const e = expected.data;
  let largest = 0;
  for (let t = 0; t < e.length; t++)
    if (Number.isFinite(e[t])) largest = Math.max(largest, Math.abs(e[t]));
  const bound = tolerance * largest;
  for (let t = 0; t < e.length; t++) {
    if (Number.isNaN(e[t]) || Number.isNaN(a[t])) {
      if (!(Number.isNaN(e[t]) && Number.isNaN(a[t]))) {
        expect.fail(`${label}: index ${t}: tiled ${a[t]}, row-wise ${e[t]}`);
      }
    } else if (!(Math.abs(a[t] - e[t]) <= bound)) {
      expect.fail(`${label}: index ${t}: tiled ${a[t]}, row-wise ${e[t]}, bound ${bound}`);
    }
  }
}

interface Case {
  name: string;
  q: number[];
  k: number[];
  v: number[];
  mask?: (dtype: DType) => Tensor;
  options?: AttentionOptions;
  bias?: number[];
}

/** Builds a seeded 0/1 keep-mask of `shape` that keeps about `keep` of the entries. */
function randomMask(shape: number[], seed: number, keep: number): Tensor {
  const noise = randn(shape, { seed });
  const data = new Float64Array(noise.size);
  for (let t = 0; t < data.length; t++) data[t] = noise.data[t] < keep * 2 - 1 ? 1 : 0;
  return tensor(data, { shape });
}

/** Builds a seeded bias of `shape` with about a fifth of its entries at -Infinity. */
function randomBias(shape: number[], seed: number, dtype: DType): Tensor {
  const noise = randn(shape, { seed, dtype });
  const data = noise.contiguous().data.slice();
  for (let t = 0; t < data.length; t++) if (data[t] > 0.85) data[t] = -Infinity;
  return tensor(data, { shape, dtype });
}

const cases: Case[] = [
  { name: "L 1, S 1, E 1, Ev 1", q: [1, 1], k: [1, 1], v: [1, 1] },
  { name: "L 5, S 7, E 3, Ev 5", q: [2, 5, 3], k: [2, 7, 3], v: [2, 7, 5] },
  { name: "L 67, S 65, E 7, Ev 3", q: [67, 7], k: [65, 7], v: [65, 3] },
  { name: "L 130, S 131, broadcast", q: [2, 3, 130, 5], k: [3, 131, 5], v: [1, 131, 6] },
  {
    name: "causal, L 65, S 66",
    q: [2, 65, 5],
    k: [2, 66, 5],
    v: [2, 66, 3],
    options: { isCausal: true },
  },
  {
    name: "causal lower-right, L 9, S 70",
    q: [9, 6],
    k: [70, 6],
    v: [70, 5],
    options: { isCausal: true, alignment: "lower-right" },
  },
  {
    name: "causal, L 70, S 9 (rows past the keys)",
    q: [70, 3],
    k: [9, 3],
    v: [9, 3],
    options: { isCausal: true, alignment: "lower-right" },
  },
  { name: "window [3, 2], L 69", q: [69, 5], k: [69, 5], v: [69, 7], options: { window: [3, 2] } },
  {
    name: "window [0, null] lower-right",
    q: [2, 13, 4],
    k: [2, 19, 4],
    v: [2, 19, 3],
    options: { window: [0, null], alignment: "lower-right" },
  },
  {
    name: "mask with fully masked rows",
    q: [2, 66, 5],
    k: [2, 71, 5],
    v: [2, 71, 3],
    mask: () => randomMask([2, 66, 71], 9, 0.15),
  },
  { name: "bias with -Infinity", q: [2, 33, 3], k: [2, 37, 3], v: [2, 37, 5], bias: [2, 33, 37] },
  {
    name: "softcap 2.5, scale 0.9",
    q: [67, 7],
    k: [70, 7],
    v: [70, 5],
    options: { softcap: 2.5, scale: 0.9 },
  },
  {
    name: "everything at once",
    q: [2, 69, 5],
    k: [1, 67, 5],
    v: [2, 67, 3],
    mask: () => randomMask([69, 67], 11, 0.7),
    bias: [2, 69, 67],
    options: { isCausal: true, alignment: "lower-right", window: [20, 1], softcap: 3, scale: 0.6 },
  },
];

/** Runs `fn` with DOTATTN_WASM set to "1" or "0", restoring it afterwards. */
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

/** Computes the tiled, the row-wise and the public function's gradients of one call. */
function gradients(
  Q: Tensor,
  K: Tensor,
  V: Tensor,
  dO: Tensor,
  mask: Tensor | undefined,
  options: AttentionOptions,
) {
  const call = normalizeAttention("attentionBackward", Q, K, V, mask, options, dO);
  const dOut = normalizeOutputGradient(call, dO);
  return {
    tiled: runBackward(call, dOut),
    rows: runBackwardRows(call, dOut),
    api: attentionBackward(Q, K, V, dO, mask, options),
  };
}

function compare(label: string, result: ReturnType<typeof gradients>, dtype: DType): void {
  for (const name of ["dQ", "dK", "dV"] as const) {
    expectClose(`${label} ${name}`, result.tiled[name], result.rows[name], TOLERANCE[dtype]);
    expect(result.api[name].data, `${label} ${name}: public function`).toEqual(
      result.tiled[name].data,
    );
  }
}

describe.each(["float64", "float32"] as const)("tiled backward against row-wise, %s", (dtype) => {
  describe.each([true, false])("WebAssembly %s", (wasm) => {
    it.each(cases)("$name", (c) => {
      withWasm(wasm, () => {
        const Q = randn(c.q, { seed: 1, dtype });
        const K = randn(c.k, { seed: 2, dtype });
        const V = randn(c.v, { seed: 3, dtype });
        const outShape = [...c.q.slice(0, -1), c.v[c.v.length - 1]];
        const lead = Math.max(c.q.length, c.k.length, c.v.length) - 2;
        const batchShape = [c.q, c.k, c.v]
          .map((s) => s.slice(0, -2))
          .reduce((a, s) => {
            const out = [...a];
            const pad = lead - s.length;
            s.forEach((d, t) => (out[pad + t] = Math.max(out[pad + t] ?? 1, d)));
            return out;
          }, new Array<number>(lead).fill(1));
        const dO = randn([...batchShape, ...outShape.slice(-2)], { seed: 4, dtype });
        const options: AttentionOptions = { ...c.options };
        if (c.bias) options.bias = randomBias(c.bias, 5, dtype);
        compare(c.name, gradients(Q, K, V, dO, c.mask?.(dtype), options), dtype);
      });
    });
  });
});

describe("tiled backward on non-finite values", () => {
  afterEach(() => {
    delete process.env.DOTATTN_WASM;
  });

  it.each(["float64", "float32"] as const)("non-finite masked keys, %s", (dtype) => {
    const [L, S, E, Ev] = [66, 70, 5, 3];
    const k = randn([2, S, E], { dtype }).contiguous().data.slice();
    const v = randn([2, S, Ev], { seed: 7, dtype }).contiguous().data.slice();
    const masked = [0, 4, 37, 69];
    for (const j of masked) {
      k[S * E + j * E + 1] = NaN;
      v[j * Ev] = Infinity;
      v[S * Ev + j * Ev + 2] = NaN;
    }
    const K = tensor(k, { shape: [2, S, E], dtype });
    const V = tensor(v, { shape: [2, S, Ev], dtype });
    const Q = randn([2, L, E], { seed: 8, dtype });
    const dO = randn([2, L, Ev], { seed: 9, dtype });
    const keep = new Float64Array(L * S).fill(1);
    for (let i = 0; i < L; i++) for (const j of masked) keep[i * S + j] = 0;
    const mask = tensor(keep, { shape: [L, S] });
    const result = gradients(Q, K, V, dO, mask, { isCausal: true, alignment: "lower-right" });
    compare("NaN in masked keys", result, dtype);
    const dK = result.tiled.dK.data;
    const dV = result.tiled.dV.data;
    for (let b = 0; b < 2; b++) {
      for (const j of masked) {
        for (let e = 0; e < E; e++) expect(Object.is(dK[(b * S + j) * E + e], 0)).toBe(true);
        for (let e = 0; e < Ev; e++) expect(Object.is(dV[(b * S + j) * Ev + e], 0)).toBe(true);
      }
    }
    for (const name of ["dQ", "dK", "dV"] as const) {
      expect(result.tiled[name].data.every(Number.isFinite), name).toBe(true);
    }
  });

  it("NaN dOutput on masked row", () => {
    const Q = randn([2, 9, 3], { seed: 1 });
    const K = randn([2, 11, 3], { seed: 2 });
    const V = randn([2, 11, 4], { seed: 3 });
    const dOData = randn([2, 9, 4], { seed: 4 }).data.slice();
    const keep = new Float64Array(9 * 11).fill(1);
    keep.fill(0, 5 * 11, 6 * 11); // row 5 fully masked
    dOData.fill(NaN, 5 * 4, 6 * 4);
    const dO = tensor(dOData, { shape: [2, 9, 4] });
    const mask = tensor(keep, { shape: [9, 11] });
    const result = gradients(Q, K, V, dO, mask, {});
    compare("NaN in dOutput", result, "float64");
    for (const name of ["dQ", "dK", "dV"] as const) {
      expect(result.tiled[name].data.every(Number.isFinite), name).toBe(true);
    }
    expect(Array.from(result.tiled.dQ.data.subarray(5 * 3, 6 * 3))).toEqual([0, 0, 0]);
  });

  it("overflowing logits give NaN", () => {
    const q = randn([6, 2], { seed: 1 }).data.slice();
    q[3 * 2] = 1e308;
    q[3 * 2 + 1] = 1e308;
    const Q = tensor(q, { shape: [6, 2] });
    const K = tensor(
      [
        [1, 1],
        [-1, 2],
        [3, 1],
        [0.5, -1],
        [2, 2],
      ],
      {},
    );
    const V = randn([5, 3], { seed: 3 });
    const dO = randn([6, 3], { seed: 4 });
    const result = gradients(Q, K, V, dO, undefined, { scale: 1 });
    compare("overflow", result, "float64");
    expect(result.tiled.dQ.data.some(Number.isNaN)).toBe(true);
  });

  it("long key axis, smaller blocks", () => {
    const [L, S] = [60, 20000];
    const Q = randn([L, 3], { seed: 1 });
    const K = randn([S, 3], { seed: 2 });
    const V = randn([S, 2], { seed: 3 });
    const dO = randn([L, 2], { seed: 4 });
    compare("long S", gradients(Q, K, V, dO, undefined, { window: [null, 3000] }), "float64");
  });
});
