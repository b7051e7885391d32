import { describe, expect, it } from "vitest";

import { erf, erfc, gelu } from "../../src/model/ops.js";
import { readFixture } from "./fixtures.js";

interface ErfFixture {
  versions: Record<string, string | number>;
  values: { x: number; erf: number; erfc: number; gelu: number }[];
}

const fixture = readFixture<ErfFixture>("erf-values.json");

/** Relative error with an absolute floor of the smallest normal double, so that exact zeros compare. */
function relativeError(actual: number, expected: number): number {
  if (Number.isNaN(actual)) return Infinity;
  return Math.abs(actual - expected) / Math.max(Math.abs(expected), 2.2250738585072014e-308);
}

describe("erf, erfc and gelu against 40-digit mpmath values", () => {
  it("fixture spans both signs and the tails", () => {
    expect(fixture.values.length).toBeGreaterThan(200);
    expect(Math.min(...fixture.values.map((v) => v.x))).toBeLessThanOrEqual(-26);
    expect(Math.max(...fixture.values.map((v) => v.x))).toBeGreaterThanOrEqual(26);
  });

  it("erf within 2e-15 relative", () => {
    for (const { x, erf: expected } of fixture.values) {
      expect(
        relativeError(erf(x), expected),
        `erf(${x}) = ${erf(x)}, expected ${expected}`,
      ).toBeLessThanOrEqual(2e-15);
    }
  });

  it("erfc within 2e-15 relative, 5e-12 where it cancels", () => {
    for (const { x, erfc: expected } of fixture.values) {
      // For 0 < x < 2.5, erfc = 1 - erf loses digits to cancellation as erfc falls towards 4e-4.
      const bound = x <= 0 || x >= 2.5 ? 2e-15 : 5e-12;
      expect(
        relativeError(erfc(x), expected),
        `erfc(${x}) = ${erfc(x)}, expected ${expected}`,
      ).toBeLessThanOrEqual(bound);
    }
  });

  it("gelu within 5e-12 relative", () => {
    for (const { x, gelu: expected } of fixture.values) {
      if (expected === 0) {
        expect(Math.abs(gelu(x)), `gelu(${x})`).toBeLessThan(1e-300);
        continue;
      }
      expect(
        relativeError(gelu(x), expected),
        `gelu(${x}) = ${gelu(x)}, expected ${expected}`,
      ).toBeLessThanOrEqual(x >= 0 ? 2e-15 : 5e-12);
    }
  });

  it("special values", () => {
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(Number.isNaN(erf(NaN))).toBe(true);
    expect(Object.is(erf(-0), -0)).toBe(true);
    expect(erfc(Infinity)).toBe(0);
    expect(erfc(-Infinity)).toBe(2);
    expect(gelu(0)).toBe(0);
  });
});
