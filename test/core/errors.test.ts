// Every rejected input: the error class, the argument it names, what it got
// and what is accepted.

import { describe, expect, it } from "vitest";
import {
  attentionBackward,
  memoryEfficientAttention,
  randn,
  scaledDotProductAttention,
  tensor,
  traceAttention,
} from "../../src/index.js";

const Q = randn([2, 3, 4], { seed: 1 }); // (batch 2, L 3, E 4)
const K = randn([2, 5, 4], { seed: 2 }); // (batch 2, S 5, E 4)
const V = randn([2, 5, 6], { seed: 3 }); // (batch 2, S 5, Ev 6)

type Call = () => unknown;

function expectError(
  call: Call,
  kind: typeof TypeError | typeof RangeError,
  ...fragments: string[]
): void {
  let caught: unknown;
  try {
    call();
  } catch (error) {
    caught = error;
  }
  expect(caught, "expected a throw").toBeInstanceOf(kind);
  const message = (caught as Error).message;
  for (const fragment of fragments) expect(message).toContain(fragment);
}

describe("shapes", () => {
  it("rejects Q with fewer than 2 dims", () => {
    expectError(
      () => scaledDotProductAttention([1, 2, 3], K, V),
      RangeError,
      "scaledDotProductAttention",
      "Q has shape [3]",
      "at least 2 dims (..., L, E)",
    );
  });

  it("rejects V with fewer than 2 dims", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, tensor([1, 2])),
      RangeError,
      "V has shape [2]",
      "(..., S, Ev)",
    );
  });

  it("rejects E of K different from E of Q", () => {
    expectError(
      () => scaledDotProductAttention(Q, randn([2, 5, 3]), V),
      RangeError,
      "K has shape [2, 5, 3] with E = 3",
      "Q has shape [2, 3, 4] with E = 4",
      "same E",
    );
  });

  it("rejects S of V different from S of K", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, randn([2, 4, 6])),
      RangeError,
      "V has shape [2, 4, 6] with S = 4",
      "K has shape [2, 5, 4] with S = 5",
    );
  });

  it("rejects leading dims that do not broadcast", () => {
    expectError(
      () => scaledDotProductAttention(Q, randn([3, 5, 4]), V),
      RangeError,
      "leading dims [2] of Q [2, 3, 4] and [3] of K [3, 5, 4]",
      "not broadcastable",
      "equal or 1",
    );
  });

  it("rejects a mask that does not broadcast to (..., L, S)", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, tensor([[1, 0, 1]])),
      RangeError,
      "mask has shape [1, 3]",
      "(..., L, S) = [2, 3, 5]",
    );
  });

  it("rejects a mask with more dims than (..., L, S)", () => {
    expectError(
      () =>
        scaledDotProductAttention(
          Q,
          K,
          V,
          tensor(new Float64Array(15).fill(1), { shape: [1, 1, 3, 5] }),
        ),
      RangeError,
      "mask has shape [1, 1, 3, 5]",
      "at most 3 dims",
    );
  });

  it("rejects a bias that does not broadcast to (..., L, S)", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { bias: [[0, 0]] }),
      RangeError,
      "options.bias has shape [1, 2]",
      "(..., L, S) = [2, 3, 5]",
    );
  });

  it("rejects dOutput whose shape is not (..., L, Ev)", () => {
    expectError(
      () => attentionBackward(Q, K, V, randn([2, 3, 5])),
      RangeError,
      "attentionBackward",
      "dOutput has shape [2, 3, 5]",
      "(..., L, Ev) = [2, 3, 6]",
    );
  });
});

describe("values", () => {
  it("rejects a numeric mask holding -Infinity and points to options.bias", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, [[0, -Infinity, 0, 0, 0]]),
      RangeError,
      "mask[0][1] is -Infinity",
      "options.bias",
    );
  });

  it("rejects a mask tensor holding 0.5", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, tensor([0.5, 1, 1, 1, 1])),
      RangeError,
      "mask[0] is 0.5",
      "true/1 (keep) and false/0 (masked)",
    );
  });

  it("rejects a mask holding NaN", () => {
    expectError(
      () => memoryEfficientAttention(Q, K, V, [[1, NaN, 1, 1, 1]]),
      RangeError,
      "memoryEfficientAttention",
      "mask[0][1] is NaN",
    );
  });

  it("rejects a ragged nested Q", () => {
    expectError(
      () => scaledDotProductAttention([[1, 2], [3]], [[1, 2]], [[1]]),
      RangeError,
      "Q[1] has length 1",
      "Q[0] has length 2",
      "ragged",
    );
  });

  it("rejects a ragged nested mask", () => {
    expectError(
      () =>
        scaledDotProductAttention(
          [[1, 2]],
          [
            [1, 2],
            [3, 4],
          ],
          [[1], [2]],
          [[true, false], [true]],
        ),
      RangeError,
      "mask[1] has length 1",
    );
  });

  it("rejects a string inside a nested K", () => {
    expectError(
      () => scaledDotProductAttention([[1, 2]], [[1, "2"]] as unknown as number[][], [[1]]),
      TypeError,
      'K[0][1] is "2"',
      "expected a number",
    );
  });

  it("rejects a NaN scale", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { scale: NaN }),
      RangeError,
      "options.scale is NaN",
      "finite number > 0",
    );
  });

  it.each([0, -1, Infinity])("rejects scale %s", (scale) => {
    expectError(
      () => traceAttention(Q, K, V, null, { scale }),
      RangeError,
      `options.scale is ${scale}`,
    );
  });

  it("rejects a scale given as a string", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { scale: "0.5" as unknown as number }),
      TypeError,
      'options.scale is "0.5"',
    );
  });

  it("rejects E = 0 without a scale", () => {
    const empty = tensor(new Float64Array(0), { shape: [3, 0] });
    expectError(
      () => scaledDotProductAttention(empty, empty, randn([3, 2])),
      RangeError,
      "E = 0",
      "pass options.scale",
    );
  });

  it.each([
    [[-1, 0], "options.window[0] is -1"],
    [[0, 1.5], "options.window[1] is 1.5"],
    [[Infinity, 0], "options.window[0] is Infinity"],
  ] as const)("rejects window %j", (window, fragment) => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { window: window as [number, number] }),
      RangeError,
      fragment,
      "integer >= 0 or null",
    );
  });

  it("rejects a window that is not a pair", () => {
    expectError(
      () =>
        scaledDotProductAttention(Q, K, V, null, { window: [1] as unknown as [number, number] }),
      RangeError,
      "options.window has 1 entries",
      "[left, right]",
    );
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { window: 3 as unknown as [number, number] }),
      TypeError,
      "options.window is 3",
    );
    expectError(
      () =>
        scaledDotProductAttention(Q, K, V, null, {
          window: ["1", 0] as unknown as [number, number],
        }),
      TypeError,
      'options.window[0] is "1"',
    );
  });

  it.each([0, -2, NaN])("rejects softcap %s", (softcap) => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { softcap }),
      RangeError,
      `options.softcap is ${softcap}`,
      "finite number > 0",
    );
  });

  it("rejects an unknown alignment", () => {
    expectError(
      () =>
        scaledDotProductAttention(Q, K, V, null, { alignment: "bottom-right" as "lower-right" }),
      RangeError,
      'options.alignment is "bottom-right"',
      '"upper-left"',
      '"lower-right"',
    );
  });

  it("rejects a bias holding NaN or +Infinity", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { bias: [[0, NaN, 0, 0, 0]] }),
      RangeError,
      "options.bias[0][1] is NaN",
      "-Infinity (masked)",
    );
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { bias: [[0, Infinity, 0, 0, 0]] }),
      RangeError,
      "options.bias[0][1] is Infinity",
    );
  });
});

describe("kinds", () => {
  it("rejects mixed dtypes", () => {
    expectError(
      () => scaledDotProductAttention(Q, K.astype("float32"), V),
      TypeError,
      "Q is float64 but K is float32",
      "astype",
    );
  });

  it("rejects a float32 bias with float64 inputs", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { bias: randn([3, 5], { dtype: "float32" }) }),
      TypeError,
      "Q is float64 but options.bias is float32",
    );
  });

  it("rejects dOutput of another dtype", () => {
    expectError(
      () => attentionBackward(Q, K, V, randn([2, 3, 6], { dtype: "float32" })),
      TypeError,
      "Q is float64 but dOutput is float32",
    );
  });

  it("rejects Q that is not a tensor or array", () => {
    expectError(
      () => scaledDotProductAttention("abc" as unknown as number[][], K, V),
      TypeError,
      'Q is "abc"',
      "a Tensor or a nested array of numbers",
    );
  });

  it("rejects a mask that is a string", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, "causal" as unknown as boolean[][]),
      TypeError,
      'mask is "causal"',
      "true/1 keeps",
    );
  });

  it("rejects options that are not an object", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, true as unknown as object),
      TypeError,
      "options is true",
      "expected a plain object",
    );
  });

  it("rejects an unknown option name", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { is_causal: true } as object),
      TypeError,
      "options.is_causal is not an option",
      "isCausal",
    );
  });

  it("rejects isCausal that is not a boolean", () => {
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, { isCausal: 1 as unknown as boolean }),
      TypeError,
      "options.isCausal is 1",
      "true or false",
    );
  });
});

describe("unusual values a user may pass", () => {
  it("rejects a nested array that contains itself", () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expectError(
      () => scaledDotProductAttention(cyclic as number[][], K, V),
      RangeError,
      "Q is nested more than 64 levels deep",
    );
    expectError(
      () => tensor(cyclic as number[]),
      RangeError,
      "values is nested more than 64 levels deep",
    );
  });

  it("rejects options given as a Map", () => {
    const options = new Map([["isCausal", true]]) as unknown as object;
    expectError(
      () => scaledDotProductAttention(Q, K, V, null, options),
      TypeError,
      "options is a Map",
      "plain object",
    );
  });

  it("treats options.bias = null as no bias", () => {
    const withNull = scaledDotProductAttention(Q, K, V, null, {
      bias: null as unknown as undefined,
    });
    expect(withNull.output.toArray()).toEqual(scaledDotProductAttention(Q, K, V).output.toArray());
  });

  it("nested inputs take a float32 dOutput's dtype", () => {
    const q = randn([2, 3], { seed: 1 }).toArray() as number[][];
    const v = randn([2, 1], { seed: 2 }).toArray() as number[][];
    const { dQ } = attentionBackward(q, q, v, randn([2, 1], { seed: 3, dtype: "float32" }));
    expect(dQ.dtype).toBe("float32");
  });

  it("accepts empty nested bias and dOutput when L = 0", () => {
    const empty = randn([0, 4]);
    const keys = randn([3, 4]);
    const values = randn([3, 2]);
    expect(scaledDotProductAttention(empty, keys, values, null, { bias: [] }).output.shape).toEqual(
      [0, 2],
    );
    expect(attentionBackward(empty, keys, values, []).dQ.shape).toEqual([0, 4]);
  });
});

describe("results too large to allocate", () => {
  it("names the weights and points to memoryEfficientAttention", () => {
    // E = 0 with a scale keeps the inputs tiny while L x S is 2^34.
    const empty = (n: number) => tensor(new Float64Array(0), { shape: [n, 0] });
    expectError(
      () =>
        scaledDotProductAttention(empty(2 ** 17), empty(2 ** 17), empty(2 ** 17), null, {
          scale: 1,
        }),
      RangeError,
      "the weights (..., L, S) = [131072, 131072] needs 17179869184 float64 numbers",
      "memoryEfficientAttention computes the output without them",
    );
  });
});
