// Hand-checked cases for the rules a reader relies on: masked rows and keys,
// alignment, window, order of operations, empty dims.

import { describe, expect, it } from "vitest";
import {
  attentionBackward,
  memoryEfficientAttention,
  randn,
  scaledDotProductAttention,
  tensor,
  traceAttention,
} from "../../src/index.js";

const everyFunction = [
  [
    "scaledDotProductAttention",
    (...a: Parameters<typeof memoryEfficientAttention>) => scaledDotProductAttention(...a).output,
  ],
  ["memoryEfficientAttention", memoryEfficientAttention],
  [
    "traceAttention",
    (...a: Parameters<typeof memoryEfficientAttention>) => traceAttention(...a).output,
  ],
] as const;

describe("fully masked query rows", () => {
  const Q = randn([3, 4], { seed: 1 });
  const K = randn([5, 4], { seed: 2 });
  const V = randn([5, 2], { seed: 3 });
  const mask = [
    [true, false, true, false, false],
    [false, false, false, false, false],
    [true, true, true, true, true],
  ];

  it.each(everyFunction)("%s gives output 0 on the masked row", (_, attend) => {
    const output = attend(Q, K, V, mask).toArray() as number[][];
    expect(output[1]).toEqual([0, 0]);
    expect(output.flat().every(Number.isFinite)).toBe(true);
  });

  it("weights of the masked row are 0", () => {
    const { weights } = scaledDotProductAttention(Q, K, V, mask);
    expect((weights.toArray() as number[][])[1]).toEqual([0, 0, 0, 0, 0]);
  });

  it("gradients of the masked row are 0", () => {
    const { dQ } = attentionBackward(Q, K, V, randn([3, 2], { seed: 4 }), mask);
    expect((dQ.toArray() as number[][])[1]).toEqual([0, 0, 0, 0]);
    expect(dQ.data.every(Number.isFinite)).toBe(true);
  });

  it("a causal query with no visible key (L > S) gets output 0", () => {
    const Q2 = randn([4, 3], { seed: 5 });
    const K2 = randn([2, 3], { seed: 6 });
    const V2 = randn([2, 1], { seed: 7 });
    const out = scaledDotProductAttention(Q2, K2, V2, null, {
      isCausal: true,
      alignment: "lower-right",
    });
    // offset S - L = -2: queries 0 and 1 see no key.
    expect((out.weights.toArray() as number[][]).slice(0, 2)).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect((out.output.toArray() as number[][]).slice(0, 2)).toEqual([[0], [0]]);
  });

  it("S = 0 gives zero output of shape (..., L, Ev)", () => {
    const { output, weights } = scaledDotProductAttention(
      randn([2, 3, 4], { seed: 1 }),
      randn([2, 0, 4], { seed: 2 }),
      randn([2, 0, 5], { seed: 3 }),
    );
    expect(output.shape).toEqual([2, 3, 5]);
    expect(weights.shape).toEqual([2, 3, 0]);
    expect(output.data.every((x) => x === 0)).toBe(true);
  });

  it("L = 0 gives empty output of shape (..., 0, Ev)", () => {
    const Q = randn([2, 0, 4], { seed: 1 });
    const { output, weights } = scaledDotProductAttention(
      Q,
      randn([2, 3, 4], { seed: 2 }),
      randn([2, 3, 5], { seed: 3 }),
    );
    expect(output.shape).toEqual([2, 0, 5]);
    expect(weights.shape).toEqual([2, 0, 3]);
    expect(memoryEfficientAttention(Q, randn([2, 3, 4]), randn([2, 3, 5])).shape).toEqual([
      2, 0, 5,
    ]);
  });
});

describe("keys masked for every query", () => {
  const Q = randn([3, 2], { seed: 1 });
  const K = tensor([
    [1, 2],
    [NaN, Infinity],
    [0.5, -1],
  ]);
  const V = tensor([[1], [NaN], [3]]);
  const mask = [[true, false, true]];
  const Kclean = tensor([
    [1, 2],
    [0.5, -1],
  ]);
  const Vclean = tensor([[1], [3]]);

  it.each(everyFunction)("%s ignores NaN stored at a masked key", (_, attend) => {
    const withNaN = attend(Q, K, V, mask);
    const without = attend(Q, Kclean, Vclean);
    expect(withNaN.toArray()).toEqual(without.toArray());
  });

  it("the same holds when the key is masked by a -Infinity bias", () => {
    const bias = [[0, -Infinity, 0]];
    expect(scaledDotProductAttention(Q, K, V, null, { bias }).output.toArray()).toEqual(
      scaledDotProductAttention(Q, Kclean, Vclean).output.toArray(),
    );
  });

  it("gradients stay finite and are 0 at the masked key", () => {
    const { dQ, dK, dV } = attentionBackward(Q, K, V, randn([3, 1], { seed: 9 }), mask);
    expect(dQ.data.every(Number.isFinite)).toBe(true);
    expect((dK.toArray() as number[][])[1]).toEqual([0, 0]);
    expect((dV.toArray() as number[][])[1]).toEqual([0]);
  });
});

describe("causal alignment when L != S", () => {
  const keepOf = (L: number, S: number, alignment: "upper-left" | "lower-right") =>
    traceAttention(
      randn([L, 2], { seed: 1 }),
      randn([S, 2], { seed: 2 }),
      randn([S, 1], { seed: 3 }),
      null,
      {
        isCausal: true,
        alignment,
      },
    ).keep.toArray();

  it("upper-left lets query i see keys 0..i", () => {
    expect(keepOf(2, 4, "upper-left")).toEqual([
      [1, 0, 0, 0],
      [1, 1, 0, 0],
    ]);
  });

  it("lower-right lines the last query up with the last key", () => {
    expect(keepOf(2, 4, "lower-right")).toEqual([
      [1, 1, 1, 0],
      [1, 1, 1, 1],
    ]);
  });

  it("a window [1, 0] keeps the diagonal and one key to its left", () => {
    const keep = traceAttention(randn([4, 2]), randn([4, 2]), randn([4, 1]), null, {
      window: [1, 0],
    }).keep;
    expect(keep.toArray()).toEqual([
      [1, 0, 0, 0],
      [1, 1, 0, 0],
      [0, 1, 1, 0],
      [0, 0, 1, 1],
    ]);
  });

  it("a window [null, 1] with lower-right alignment is unbounded on the left", () => {
    const keep = traceAttention(randn([2, 2]), randn([4, 2]), randn([4, 1]), null, {
      window: [null, 1],
      alignment: "lower-right",
    }).keep;
    expect(keep.toArray()).toEqual([
      [1, 1, 1, 1],
      [1, 1, 1, 1],
    ]);
  });
});

describe("order of operations", () => {
  it("applies scale, then softcap, then bias", () => {
    // One query, two keys: logits are 2 * 4 = 8 and 0 before the softcap.
    const t = traceAttention([[2]], [[4], [0]], [[1], [0]], null, {
      scale: 1,
      softcap: 2,
      bias: [[1, 0]],
    });
    expect(t.scores.toArray()).toEqual([[8, 0]]);
    expect(t.scaled.toArray()).toEqual([[2 * Math.tanh(4), 0]]);
    expect(t.masked.toArray()).toEqual([[2 * Math.tanh(4) + 1, 0]]);
    const z = 2 * Math.tanh(4) + 1;
    expect((t.weights.toArray() as number[][])[0][0]).toBeCloseTo(
      Math.exp(z) / (Math.exp(z) + 1),
      15,
    );
  });

  it("default scale is 1 / sqrt(E)", () => {
    const t = traceAttention([[1, 1, 1, 1]], [[1, 1, 1, 1]], [[1]]);
    expect(t.scaled.toArray()).toEqual([[4 / 2]]);
  });

  it("a custom scale replaces 1 / sqrt(E), which lets E = 0 attend uniformly", () => {
    const { weights } = scaledDotProductAttention(
      tensor(new Float64Array(0), { shape: [1, 0] }),
      tensor(new Float64Array(0), { shape: [2, 0] }),
      [[1], [3]],
      null,
      { scale: 1 },
    );
    expect(weights.toArray()).toEqual([[0.5, 0.5]]);
  });
});

describe("inputs and dtypes", () => {
  it("nested arrays and tensors give the same result", () => {
    const Q = randn([2, 3], { seed: 1 });
    const K = randn([4, 3], { seed: 2 });
    const V = randn([4, 2], { seed: 3 });
    const a = scaledDotProductAttention(Q, K, V).output;
    const b = scaledDotProductAttention(
      Q.toArray() as number[][],
      K.toArray() as number[][],
      V.toArray() as number[][],
    ).output;
    expect(b.toArray()).toEqual(a.toArray());
  });

  it("nested arrays take the dtype of tensor arguments", () => {
    const out = scaledDotProductAttention(
      randn([2, 3], { dtype: "float32" }),
      [[1, 2, 3]],
      [[1]],
    ).output;
    expect(out.dtype).toBe("float32");
    expect(out.data).toBeInstanceOf(Float32Array);
  });

  it("a transposed view is read through its strides", () => {
    const Kt = randn([3, 4], { seed: 2 }); // (E, S), so K = Kt^T is (S, E)
    const Q = randn([2, 3], { seed: 1 });
    const V = randn([4, 1], { seed: 3 });
    expect(scaledDotProductAttention(Q, Kt.transpose(), V).output.toArray()).toEqual(
      scaledDotProductAttention(Q, Kt.transpose().contiguous(), V).output.toArray(),
    );
  });

  it("broadcast leading dims sum gradients over the broadcast", () => {
    const Q = randn([1, 2, 3], { seed: 1 }); // shared by both batches
    const K = randn([2, 4, 3], { seed: 2 });
    const V = randn([2, 4, 2], { seed: 3 });
    const dO = randn([2, 2, 2], { seed: 4 });
    const { dQ } = attentionBackward(Q, K, V, dO);
    const first = attentionBackward(Q, K.toArray() as number[][][], V, dO).dQ;
    expect(dQ.shape).toEqual([1, 2, 3]);
    expect(first.toArray()).toEqual(dQ.toArray());
    const [k0, k1] = K.toArray() as number[][][];
    const [v0, v1] = V.toArray() as number[][][];
    const [o0, o1] = dO.toArray() as number[][][];
    const q = (Q.toArray() as number[][][])[0];
    const sum = attentionBackward(q, k0, v0, o0).dQ.data.map(
      (x, n) => x + attentionBackward(q, k1, v1, o1).dQ.data[n],
    );
    for (let n = 0; n < sum.length; n++) expect(dQ.data[n]).toBeCloseTo(sum[n], 14);
  });
});

describe("overflowing logits", () => {
  it("a first key block of -Infinity logits does not poison memoryEfficientAttention", () => {
    // 200 keys whose logits are -Infinity span several key blocks before the one finite key.
    const K = [...Array(200).fill([-Infinity]), [0]];
    const V = [...Array(200).fill([0]), [7]];
    expect(scaledDotProductAttention([[1]], K, V).output.toArray()).toEqual([[7]]);
    expect(memoryEfficientAttention([[1]], K, V).toArray()).toEqual([[7]]);
  });

  it("every function scales before summing, so none overflows where another does not", () => {
    const Q = [[1e200]];
    const K = [[1e200], [1]];
    const V = [[1], [2]];
    const options = { scale: 1e-200 };
    expect(scaledDotProductAttention(Q, K, V, null, options).output.toArray()).toEqual([[1]]);
    expect(memoryEfficientAttention(Q, K, V, null, options).toArray()).toEqual([[1]]);
    expect(traceAttention(Q, K, V, null, options).output.toArray()).toEqual([[1]]);
    const { dQ, dK, dV } = attentionBackward(Q, K, V, [[1]], null, options);
    expect([...dQ.data, ...dK.data, ...dV.data].every(Number.isFinite)).toBe(true);
  });
});
