// Property tests: every dotattn function against the plain float64 reference
// on random shapes, masks and options.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  attentionBackward,
  memoryEfficientAttention,
  randn,
  scaledDotProductAttention,
  traceAttention,
} from "../../src/index.js";
import { assertClose } from "./helpers/compare.js";
import { problemArbitrary, roundToFloat32, toArguments } from "./problems.js";
import { finiteDifference, referenceAttention } from "./reference.js";

const FLOAT64 = { atol: 1e-12, rtol: 1e-12 };
// float32 storage with float64 arithmetic inside: the only error is rounding
// the result to float32 (relative 6e-8), so 1e-6 leaves a wide margin.
const FLOAT32 = { atol: 1e-6, rtol: 1e-6 };
const RUNS = { numRuns: 300, seed: 20261204 };

describe("attention against the float64 reference", () => {
  it("scaledDotProductAttention matches output and weights", () => {
    fc.assert(
      fc.property(problemArbitrary(), (c) => {
        const { Q, K, V, mask, options } = toArguments(c);
        const expected = referenceAttention(c.problem);
        const { output, weights } = scaledDotProductAttention(Q, K, V, mask, options);
        assertClose("output", output, expected.output, FLOAT64);
        assertClose("weights", weights, expected.weights, FLOAT64);
      }),
      RUNS,
    );
  });

  it("memoryEfficientAttention matches the output", () => {
    fc.assert(
      fc.property(problemArbitrary(), (c) => {
        const { Q, K, V, mask, options } = toArguments(c);
        const expected = referenceAttention(c.problem);
        assertClose(
          "output",
          memoryEfficientAttention(Q, K, V, mask, options),
          expected.output,
          FLOAT64,
        );
      }),
      RUNS,
    );
  });

  it("memoryEfficientAttention matches across many key blocks", () => {
    // S above the key block size (128) exercises the online rescaling.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 129, max: 400 }),
        fc.boolean(),
        fc.constantFrom("upper-left" as const, "lower-right" as const),
        fc.option(fc.tuple(fc.integer({ min: 0, max: 150 }), fc.integer({ min: 0, max: 150 })), {
          nil: undefined,
        }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (L, S, isCausal, alignment, window, seed) => {
          const Q = randn([L, 3], { seed });
          const K = randn([S, 3], { seed: seed + 1 }).astype("float64");
          // Large logits make the running maximum move between blocks.
          const V = randn([S, 2], { seed: seed + 2 });
          const options = { isCausal, alignment, window, scale: 4 };
          const exact = scaledDotProductAttention(Q, K, V, null, options).output;
          assertClose("output", memoryEfficientAttention(Q, K, V, null, options), exact, FLOAT64);
        },
      ),
      { numRuns: 60, seed: 7 },
    );
  });

  it("traceAttention matches weights and output", () => {
    fc.assert(
      fc.property(problemArbitrary(), (c) => {
        const { Q, K, V, mask, options } = toArguments(c);
        const expected = referenceAttention(c.problem);
        const trace = traceAttention(Q, K, V, mask, options);
        assertClose("weights", trace.weights, expected.weights, FLOAT64);
        assertClose("output", trace.output, expected.output, FLOAT64);
        for (let n = 0; n < trace.keep.size; n++) {
          const kept = trace.keep.data[n] === 1;
          expect(
            kept ? Number.isFinite(trace.masked.data[n]) : trace.masked.data[n] === -Infinity,
          ).toBe(true);
          if (!kept) expect(trace.weights.data[n]).toBe(0);
        }
      }),
      RUNS,
    );
  });

  it("weights rows sum to 1, or 0 when fully masked", () => {
    fc.assert(
      fc.property(problemArbitrary(), (c) => {
        const { Q, K, V, mask, options } = toArguments(c);
        const { output, weights } = scaledDotProductAttention(Q, K, V, mask, options);
        const S = weights.shape.at(-1)!;
        for (let row = 0; row * S < weights.size; row++) {
          let sum = 0;
          for (let j = 0; j < S; j++) sum += weights.data[row * S + j];
          expect(Math.abs(sum - 1) < 1e-12 || sum === 0).toBe(true);
        }
        expect(output.data.every(Number.isFinite)).toBe(true);
      }),
      RUNS,
    );
  });

  it("float32 inputs give float32 results close to the reference", () => {
    fc.assert(
      fc.property(problemArbitrary(), (c) => {
        const { Q, K, V, mask, options } = toArguments(c, "float32");
        const expected = referenceAttention(roundToFloat32(c.problem));
        const { output, weights } = scaledDotProductAttention(Q, K, V, mask, options);
        expect(output.dtype).toBe("float32");
        assertClose("output", output, expected.output, FLOAT32);
        assertClose("weights", weights, expected.weights, FLOAT32);
        assertClose(
          "memory-efficient output",
          memoryEfficientAttention(Q, K, V, mask, options),
          expected.output,
          FLOAT32,
        );
      }),
      { numRuns: 150, seed: 11 },
    );
  });
});

describe("attentionBackward against finite differences", () => {
  it("dQ, dK and dV match central differences of the reference", () => {
    fc.assert(
      fc.property(problemArbitrary(4), fc.integer({ min: 0, max: 2 ** 31 }), (c, seed) => {
        const { Q, K, V, mask, options } = toArguments(c);
        const outShape = referenceAttention(c.problem).output.shape;
        const dOutput = randn(outShape, { seed });
        const grads = attentionBackward(Q, K, V, dOutput, mask, options);
        const dO = { shape: outShape, data: dOutput.data as Float64Array };
        // Central differences with h = 1e-6 carry an error of about h^2 times
        // the third derivative plus 1e-16 / h of rounding: 1e-7 absolute and
        // 1e-6 relative bound both here.
        const tolerance = { atol: 1e-7, rtol: 1e-6 };
        for (const [name, grad] of [
          ["Q", grads.dQ],
          ["K", grads.dK],
          ["V", grads.dV],
        ] as const) {
          const numeric = finiteDifference(c.problem, dO, name);
          assertClose(`d${name}`, grad, { shape: c.problem[name].shape, data: numeric }, tolerance);
        }
      }),
      { numRuns: 80, seed: 3 },
    );
  });
});
