// fast-check arbitraries for attention problems: random shapes (L or S of 0
// and 1, non-square, E != Ev, broadcast leading dims), masks in every accepted
// form, and every option.

import fc from "fast-check";
import {
  randn,
  tensor,
  type AttentionOptions,
  type MaskLike,
  type Tensor,
} from "../../src/index.js";
import { broadcast, type Dense, type Problem } from "./reference.js";

/** A problem plus how to hand its mask to dotattn. */
export interface Case {
  problem: Problem;
  maskForm: "nested-boolean" | "nested-number" | "tensor";
}

function dense(shape: number[], seed: number): Dense {
  return { shape, data: randn(shape, { seed }).data as Float64Array };
}

/** Picks, for each dim of `full`, the dim itself or 1, and maybe drops some leading dims. */
function broadcastableShape(full: number[], keepTrailing: number): fc.Arbitrary<number[]> {
  return fc
    .tuple(
      fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
      fc.integer({ min: 0, max: full.length - keepTrailing }),
    )
    .map(([ones, drop]) => full.map((d, i) => (ones[i] ? 1 : d)).slice(drop));
}

const windowSide = fc.option(fc.integer({ min: 0, max: 3 }), { nil: null });

/** Random attention problems; `maxDim` bounds L, S, E and Ev. */
export function problemArbitrary(maxDim = 5): fc.Arbitrary<Case> {
  return fc
    .record({
      lead: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
      L: fc.integer({ min: 0, max: maxDim }),
      S: fc.integer({ min: 0, max: maxDim }),
      E: fc.integer({ min: 1, max: maxDim }),
      Ev: fc.integer({ min: 1, max: maxDim }),
      seed: fc.integer({ min: 0, max: 2 ** 31 }),
    })
    .chain(({ lead, L, S, E, Ev, seed }) =>
      fc
        .record({
          qLead: broadcastableShape(lead, 0),
          kLead: broadcastableShape(lead, 0),
          vLead: broadcastableShape(lead, 0),
          maskShape: fc.option(broadcastableShape([...lead, L, S], 0), { nil: undefined }),
          maskDensity: fc.double({ min: 0, max: 1, noNaN: true }),
          maskForm: fc.constantFrom(
            "nested-boolean" as const,
            "nested-number" as const,
            "tensor" as const,
          ),
          biasShape: fc.option(broadcastableShape([...lead, L, S], 0), { nil: undefined }),
          isCausal: fc.boolean(),
          alignment: fc.constantFrom("upper-left" as const, "lower-right" as const),
          window: fc.option(fc.tuple(windowSide, windowSide), { nil: undefined }),
          scale: fc.option(fc.double({ min: 0.05, max: 3, noNaN: true }), { nil: undefined }),
          softcap: fc.option(fc.double({ min: 0.2, max: 5, noNaN: true }), { nil: undefined }),
        })
        .map((o) => {
          // Q, K and V must still broadcast to `lead`: pad each to the full rank.
          const problem: Problem = {
            Q: dense([...o.qLead, L, E], seed),
            K: dense([...o.kLead, S, E], seed + 1),
            V: dense([...o.vLead, S, Ev], seed + 2),
            isCausal: o.isCausal,
            alignment: o.alignment,
            window: o.window,
            scale: o.scale,
            softcap: o.softcap,
          };
          const target = [...broadcast(o.qLead, o.kLead, o.vLead), L, S];
          if (o.maskShape) {
            o.maskShape = fitTo(o.maskShape, target);
            const noise = randn(o.maskShape, { seed: seed + 3 }).data;
            const threshold = quantile(o.maskDensity);
            problem.mask = {
              shape: o.maskShape,
              data: Float64Array.from(noise, (x) => (x < threshold ? 1 : 0)),
            };
          }
          if (o.biasShape) {
            o.biasShape = fitTo(o.biasShape, target);
            const noise = randn(o.biasShape, { seed: seed + 4 }).data;
            problem.bias = {
              shape: o.biasShape,
              data: Float64Array.from(noise, (x) => (x > 1.2 ? -Infinity : x)),
            };
          }
          return { problem, maskForm: o.maskForm };
        }),
    );
}

/** Makes a shape drawn for the full leading dims broadcast to `target` (dims where `target` is 1 become 1). */
function fitTo(shape: number[], target: number[]): number[] {
  const trimmed = shape.slice(Math.max(0, shape.length - target.length));
  const shift = target.length - trimmed.length;
  return trimmed.map((d, i) => (target[shift + i] === 1 ? 1 : d));
}

/** The standard normal quantile, roughly, so `density` of mask entries keep. */
function quantile(density: number): number {
  if (density <= 0) return -Infinity;
  if (density >= 1) return Infinity;
  return (density - 0.5) * 5;
}

/** Builds nested arrays of `shape` from flat data. */
export function nest(
  shape: readonly number[],
  data: ArrayLike<number>,
  asBoolean = false,
): unknown {
  const build = (depth: number, start: number): unknown => {
    if (depth === shape.length) return asBoolean ? data[start] !== 0 : data[start];
    const stride = shape.slice(depth + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: shape[depth] }, (_, i) => build(depth + 1, start + i * stride));
  };
  return build(0, 0);
}

/** The arguments dotattn takes for a problem, in float64 or float32. */
export function toArguments(
  c: Case,
  dtype: "float64" | "float32" = "float64",
): { Q: Tensor; K: Tensor; V: Tensor; mask: MaskLike | undefined; options: AttentionOptions } {
  const p = c.problem;
  const t = (d: Dense): Tensor => tensor(d.data, { shape: d.shape, dtype });
  let mask: MaskLike | undefined;
  if (p.mask) {
    if (c.maskForm === "tensor") mask = t(p.mask);
    else mask = nest(p.mask.shape, p.mask.data, c.maskForm === "nested-boolean") as MaskLike;
  }
  const options: AttentionOptions = {
    isCausal: p.isCausal,
    alignment: p.alignment,
    ...(p.window ? { window: p.window } : {}),
    ...(p.scale !== undefined ? { scale: p.scale } : {}),
    ...(p.softcap !== undefined ? { softcap: p.softcap } : {}),
    ...(p.bias ? { bias: t(p.bias) } : {}),
  };
  return { Q: t(p.Q), K: t(p.K), V: t(p.V), mask, options };
}

/** Rounds a problem's inputs to float32, so a float32 run and the float64 reference see the same numbers. */
export function roundToFloat32(p: Problem): Problem {
  const r = (d: Dense | undefined): Dense | undefined =>
    d && { shape: d.shape, data: Float64Array.from(Float32Array.from(d.data)) };
  return { ...p, Q: r(p.Q)!, K: r(p.K)!, V: r(p.V)!, mask: r(p.mask), bias: r(p.bias) };
}
