import { describe, expect, it } from "vitest";

import { MultiHeadAttention, type MultiHeadForwardOptions } from "../../src/multihead.js";
import { Tensor, randn, tensor } from "../../src/tensor.js";
import { scaledDotProductAttention } from "../../src/api.js";
import { assertClose } from "../core/helpers/compare.js";
import { fromNested, readFixture } from "./fixtures.js";

interface MhaCase {
  name: string;
  layout: "torch" | "bert" | "gqa";
  embedDim: number;
  numHeads: number;
  numKeyValueHeads: number;
  bias: boolean;
  stateDict: Record<string, number[] | number[][]>;
  query: number[][] | number[][][];
  key: number[][] | number[][][];
  value: number[][] | number[][][];
  options: MultiHeadForwardOptions;
  output: number[][] | number[][][];
  weights: unknown;
}

const fixture = readFixture<{ versions: Record<string, string>; cases: MhaCase[] }>(
  "mha-vectors.json",
);
const TIGHT = { atol: 1e-12, rtol: 1e-12 };

const view = (t: Tensor) => ({
  shape: t.shape,
  data: t.data,
  strides: t.strides,
  offset: t.offset,
});

describe("MultiHeadAttention against PyTorch", () => {
  it("fixture covers every layout", () => {
    expect(new Set(fixture.cases.map((c) => c.layout))).toEqual(new Set(["torch", "bert", "gqa"]));
    expect(fixture.versions.torch).toMatch(/^2\.13\.0/);
  });

  for (const c of fixture.cases) {
    it(`${c.name}: fromStateDict`, () => {
      const mha = MultiHeadAttention.fromStateDict(c.stateDict, { numHeads: c.numHeads });
      expect(mha.embedDim).toBe(c.embedDim);
      expect(mha.numKeyValueHeads).toBe(c.numKeyValueHeads);
      expect(mha.bias).toBe(c.bias);
      const { output, weights } = mha.forward(c.query, c.key, c.value, c.options);
      assertClose(`${c.name} output`, view(output), fromNested(c.output), TIGHT);
      expect(weights).not.toBeNull();
      assertClose(`${c.name} weights`, view(weights!), fromNested(c.weights), TIGHT);
    });

    it(`${c.name}: loadStateDict into a new module`, () => {
      const mha = new MultiHeadAttention({
        embedDim: c.embedDim,
        numHeads: c.numHeads,
        numKeyValueHeads: c.numKeyValueHeads,
        bias: c.bias,
        seed: 5,
      }).loadStateDict(c.stateDict);
      const { output, weights } = mha.forward(c.query, c.key, c.value, {
        ...c.options,
        needWeights: false,
        averageWeights: false,
      });
      expect(weights).toBeNull();
      assertClose(`${c.name} output (memory-efficient)`, view(output), fromNested(c.output), TIGHT);
    });
  }
});

describe("MultiHeadAttention behaviour", () => {
  it("same seed gives the same weights", () => {
    const a = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 3 });
    const b = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 3 });
    const c = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 4 });
    expect(Array.from(a.keyWeight.data)).toEqual(Array.from(b.keyWeight.data));
    expect(Array.from(a.keyWeight.data)).not.toEqual(Array.from(c.keyWeight.data));
  });

  it("initial weights have Xavier scale", () => {
    const mha = new MultiHeadAttention({ embedDim: 64, numHeads: 4, seed: 1 });
    const data = mha.queryWeight.data;
    let sumSquares = 0;
    for (const x of data) sumSquares += x * x;
    const std = Math.sqrt(sumSquares / data.length);
    // Expected std sqrt(2 / (64 + 64)) = 0.125; 4096 samples put the estimate within a few percent.
    expect(std).toBeGreaterThan(0.125 * 0.95);
    expect(std).toBeLessThan(0.125 * 1.05);
    expect(Array.from(mha.queryBias!.data).every((x) => x === 0)).toBe(true);
  });

  it("parameter count of GQA", () => {
    const mha = new MultiHeadAttention({ embedDim: 16, numHeads: 4, numKeyValueHeads: 2 });
    // q and o: 16*16 each; k and v: 8*16 each; biases 16 + 8 + 8 + 16.
    expect(mha.parameterCount).toBe(2 * 256 + 2 * 128 + 48);
  });

  it("heads equal per-head attention", () => {
    const mha = new MultiHeadAttention({ embedDim: 6, numHeads: 3, numKeyValueHeads: 1, seed: 2 });
    const x = randn([2, 4, 6], { seed: 9 });
    const { weights } = mha.forward(x, x, x);
    // Head 1 by hand: project with rows 2..3 of W_q and the single key head.
    const rows = (w: Tensor, from: number, to: number) =>
      tensor(Array.from(w.data.slice(from * 6, to * 6)), { shape: [to - from, 6] });
    const xw = (w: Tensor) => {
      const out: number[][][] = [];
      for (let n = 0; n < 2; n++) {
        out.push([]);
        for (let t = 0; t < 4; t++) {
          const row: number[] = [];
          for (let o = 0; o < w.shape[0]; o++) {
            let s = 0;
            for (let i = 0; i < 6; i++) s += x.get(n, t, i) * w.get(o, i);
            row.push(s);
          }
          out[n].push(row);
        }
      }
      return out;
    };
    const q1 = xw(rows(mha.queryWeight, 2, 4));
    const k = xw(mha.keyWeight);
    const expected = scaledDotProductAttention(q1, k, k).weights;
    const head1 = weights!.toArray() as number[][][][];
    assertClose("head 1 weights", fromNested(head1.map((n) => n[1])), view(expected), TIGHT);
  });

  it("GQA equals MHA with repeated key/value heads", () => {
    const gqa = new MultiHeadAttention({ embedDim: 8, numHeads: 4, numKeyValueHeads: 2, seed: 6 });
    // Query head h uses key/value head floor(h / 2): repeat each 2-row block of W_k and W_v twice.
    const repeatHeads = (w: Tensor) => {
      const rows = w.toArray() as number[][];
      return [0, 0, 1, 1].flatMap((g) => rows.slice(g * 2, g * 2 + 2));
    };
    const full = MultiHeadAttention.fromStateDict(
      {
        "query.weight": gqa.queryWeight,
        "key.weight": repeatHeads(gqa.keyWeight),
        "value.weight": repeatHeads(gqa.valueWeight),
        "output.dense.weight": gqa.outputWeight,
        "query.bias": randn([8], { seed: 1 }),
        "key.bias": new Array(8).fill(0),
        "value.bias": new Array(8).fill(0),
        "output.dense.bias": new Array(8).fill(0),
      },
      { numHeads: 4 },
    );
    gqa.queryBias = full.queryBias;
    const q = randn([2, 3, 8], { seed: 7 });
    const kv = randn([2, 5, 8], { seed: 8 });
    // A different keep-mask per head, so that a wrong head-to-group mapping shows.
    const mask = [0, 1, 2, 3].map((h) =>
      [0, 1, 2].map((i) => [0, 1, 2, 3, 4].map((j) => (i + j + h) % 3 !== 0)),
    );
    const expected = full.forward(q, kv, kv, { mask: [mask] });
    const actual = gqa.forward(q, kv, kv, { mask: [mask] });
    expect(full.numKeyValueHeads).toBe(4);
    assertClose("GQA output", view(actual.output), view(expected.output), TIGHT);
    assertClose("GQA weights", view(actual.weights!), view(expected.weights!), TIGHT);
  });

  it("unbatched equals batch of one", () => {
    const mha = new MultiHeadAttention({ embedDim: 4, numHeads: 2, seed: 1 });
    const q = randn([3, 4], { seed: 1 });
    const kv = randn([5, 4], { seed: 2 });
    const single = mha.forward(q, kv, kv, { keyMask: [1, 1, 0, 1, 1] });
    const batch = mha.forward(q.reshape([1, 3, 4]), kv.reshape([1, 5, 4]), kv.reshape([1, 5, 4]), {
      keyMask: [[1, 1, 0, 1, 1]],
    });
    expect(single.output.shape).toEqual([3, 4]);
    expect(single.weights!.shape).toEqual([2, 3, 5]);
    expect(Array.from(single.output.data)).toEqual(Array.from(batch.output.data));
    expect(single.weights!.get(1, 2, 2)).toBe(0);
  });

  it("fully masked query gives bias output, no NaN", () => {
    const mha = new MultiHeadAttention({ embedDim: 4, numHeads: 2, seed: 1 });
    const x = randn([1, 2, 4], { seed: 3 });
    const { output, weights } = mha.forward(x, x, x, {
      mask: [
        [false, false],
        [true, true],
      ],
    });
    expect(Array.from(weights!.data).some(Number.isNaN)).toBe(false);
    expect(weights!.get(0, 0, 0, 0)).toBe(0);
    expect(output.get(0, 0, 0)).toBe(0); // output bias is 0 after initialisation
  });

  it("float32 module returns float32", () => {
    const mha = new MultiHeadAttention({ embedDim: 4, numHeads: 2, dtype: "float32" });
    const x = randn([1, 3, 4], { seed: 3, dtype: "float32" });
    const { output, weights } = mha.forward(x, x, x, { averageWeights: true });
    expect(output.dtype).toBe("float32");
    expect(weights!.shape).toEqual([1, 3, 3]);
  });
});

describe("MultiHeadAttention errors", () => {
  const E = 4;
  const ok = () => new MultiHeadAttention({ embedDim: E, numHeads: 2 });
  const x = randn([1, 3, E], { seed: 1 });

  const constructorCases: [string, unknown, ErrorConstructor, RegExp][] = [
    [
      "options missing",
      undefined,
      TypeError,
      /MultiHeadAttention: options is undefined; expected an object/,
    ],
    [
      "embedDim a string",
      { embedDim: "4", numHeads: 2 },
      TypeError,
      /options\.embedDim is "4"; expected an integer >= 1/,
    ],
    [
      "embedDim zero",
      { embedDim: 0, numHeads: 1 },
      RangeError,
      /options\.embedDim is 0; expected an integer >= 1/,
    ],
    [
      "heads not dividing",
      { embedDim: 6, numHeads: 4 },
      RangeError,
      /options\.numHeads is 4, which does not divide options\.embedDim 6/,
    ],
    [
      "kv heads not dividing",
      { embedDim: 12, numHeads: 4, numKeyValueHeads: 3 },
      RangeError,
      /options\.numKeyValueHeads is 3, which does not divide options\.numHeads 4/,
    ],
    [
      "bias a number",
      { embedDim: 4, numHeads: 2, bias: 1 },
      TypeError,
      /options\.bias is 1; expected true or false/,
    ],
    [
      "dtype unknown",
      { embedDim: 4, numHeads: 2, dtype: "int8" },
      TypeError,
      /options\.dtype is "int8"/,
    ],
    [
      "seed negative",
      { embedDim: 4, numHeads: 2, seed: -1 },
      RangeError,
      /options\.seed is -1; expected an integer in \[0, 2\^32\)/,
    ],
    [
      "unknown option",
      { embedDim: 4, numHeads: 2, heads: 2 },
      TypeError,
      /options\.heads is not an option/,
    ],
  ];
  for (const [name, options, kind, message] of constructorCases) {
    it(`constructor: ${name}`, () => {
      const make = () => new MultiHeadAttention(options as never);
      expect(make).toThrow(kind);
      expect(make).toThrow(message);
    });
  }

  const forwardCases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      "query not a tensor",
      () => ok().forward("q" as never, x, x),
      TypeError,
      /forward: query is "q"; expected a Tensor or nested arrays/,
    ],
    [
      "query 4-d",
      () => ok().forward(randn([1, 1, 3, E]), x, x),
      RangeError,
      /query has shape \[1, 1, 3, 4\]; expected \(N, L, E\) or unbatched \(L, E\)/,
    ],
    [
      "key 2-d with batched query",
      () => ok().forward(x, randn([3, E]), x),
      RangeError,
      /key has shape \[3, 4\]; expected \(N, S, E\)/,
    ],
    [
      "wrong feature size",
      () => ok().forward(randn([1, 3, 5]), x, x),
      RangeError,
      /query has shape \[1, 3, 5\]; expected its last dim to be embedDim 4/,
    ],
    [
      "batch sizes differ",
      () => ok().forward(x, randn([2, 3, E]), randn([2, 3, E])),
      RangeError,
      /have batch sizes 1, 2, 2; expected the same N/,
    ],
    [
      "key and value S differ",
      () => ok().forward(x, x, randn([1, 2, E])),
      RangeError,
      /differ in S/,
    ],
    [
      "float32 input to float64 module",
      () => ok().forward(x.astype("float32"), x, x),
      TypeError,
      /query is float32 but the module is float64/,
    ],
    [
      "ragged query",
      () => ok().forward([[1, 2, 3, 4], [1]], x.reshape([3, E]), x.reshape([3, E])),
      RangeError,
      /forward: query/,
    ],
    [
      "options not an object",
      () => ok().forward(x, x, x, 3 as never),
      TypeError,
      /options is 3; expected an object/,
    ],
    [
      "unknown option",
      () => ok().forward(x, x, x, { causal: true } as never),
      TypeError,
      /options\.causal is not an option/,
    ],
    [
      "isCausal a string",
      () => ok().forward(x, x, x, { isCausal: "yes" as never }),
      TypeError,
      /options\.isCausal is "yes"; expected true or false/,
    ],
    [
      "average without weights",
      () => ok().forward(x, x, x, { needWeights: false, averageWeights: true }),
      RangeError,
      /averageWeights is true but options\.needWeights is false/,
    ],
    [
      "mask not broadcastable",
      () =>
        ok().forward(x, x, x, {
          mask: [
            [1, 0],
            [1, 1],
          ],
        }),
      RangeError,
      /options\.mask has shape \[2, 2\]; expected a shape broadcastable to \(N, H, L, S\) = \[1, 2, 3, 3\]/,
    ],
    [
      "additive mask",
      () =>
        ok().forward(x, x, x, {
          mask: [
            [0, -Infinity, 0],
            [0, 0, 0],
            [0, 0, 0],
          ],
        }),
      RangeError,
      /options\.mask contains -Infinity at flat index 1; expected a keep-mask/,
    ],
    [
      "keyMask wrong shape",
      () => ok().forward(x, x, x, { keyMask: [1, 1, 1] }),
      RangeError,
      /options\.keyMask has shape \[3\]; expected \(N, S\) = \[1, 3\]/,
    ],
  ];
  for (const [name, run, kind, message] of forwardCases) {
    it(`forward: ${name}`, () => {
      expect(run).toThrow(kind);
      expect(run).toThrow(message);
    });
  }

  const torchCase = fixture.cases.find((c) => c.layout === "torch" && c.bias)!;
  const bertCase = fixture.cases.find((c) => c.layout === "bert")!;
  const loadCases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      "state dict not an object",
      () => ok().loadStateDict(null as never),
      TypeError,
      /loadStateDict: stateDict is null; expected an object/,
    ],
    [
      "unknown layout",
      () => ok().loadStateDict({ "w.weight": [[1]] }),
      RangeError,
      /stateDict has neither "in_proj_weight" .* nor "query\.weight" or "self\.query\.weight"/,
    ],
    [
      "prefix not a string",
      () => ok().loadStateDict({}, { prefix: 3 as never }),
      TypeError,
      /options\.prefix is 3; expected a string/,
    ],
    [
      "wrong shape",
      () => new MultiHeadAttention({ embedDim: 6, numHeads: 2 }).loadStateDict(torchCase.stateDict),
      RangeError,
      /stateDict\["in_proj_weight"\] has shape \[24, 8\]; expected \[18, 6\]/,
    ],
    [
      "bias present, module without",
      () =>
        new MultiHeadAttention({ embedDim: 8, numHeads: 2, bias: false }).loadStateDict(
          torchCase.stateDict,
        ),
      RangeError,
      /stateDict has "in_proj_bias", but the module has bias: false/,
    ],
    [
      "bias missing",
      () => {
        const rest = Object.fromEntries(
          Object.entries(bertCase.stateDict).filter(([name]) => name !== "query.bias"),
        );
        return MultiHeadAttention.fromStateDict(
          { ...rest, "output.dense.bias": bertCase.stateDict["output.dense.bias"] },
          { numHeads: 3 },
        );
      },
      RangeError,
      /stateDict has no "query\.bias"; expected biases/,
    ],
    [
      "packed weights into GQA module",
      () =>
        new MultiHeadAttention({ embedDim: 8, numHeads: 2, numKeyValueHeads: 1 }).loadStateDict(
          torchCase.stateDict,
        ),
      RangeError,
      /packs full-size key and value projections/,
    ],
    [
      "value not a tensor",
      () =>
        new MultiHeadAttention({ embedDim: E, numHeads: 2, bias: false }).loadStateDict({
          in_proj_weight: "x" as never,
        }),
      TypeError,
      /stateDict\["in_proj_weight"\] is "x"/,
    ],
    [
      "fromStateDict numHeads missing",
      () => MultiHeadAttention.fromStateDict(torchCase.stateDict, {} as never),
      TypeError,
      /options\.numHeads is undefined/,
    ],
  ];
  for (const [name, run, kind, message] of loadCases) {
    it(`loadStateDict: ${name}`, () => {
      expect(run).toThrow(kind);
      expect(run).toThrow(message);
    });
  }

  it("prefix selects BERT names", () => {
    const prefixed = Object.fromEntries(
      Object.entries(bertCase.stateDict).map(([k, v]) => [
        k.startsWith("output.") ? `layer.0.attention.${k}` : `layer.0.attention.self.${k}`,
        v,
      ]),
    );
    const mha = MultiHeadAttention.fromStateDict(prefixed, {
      numHeads: 3,
      prefix: "layer.0.attention.",
    });
    const { output } = mha.forward(bertCase.query, bertCase.key, bertCase.value, bertCase.options);
    assertClose("prefixed output", view(output), fromNested(bertCase.output), TIGHT);
  });
});
