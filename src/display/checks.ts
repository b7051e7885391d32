// Checks for notebook cells that state a fact: each prints the quantity, the
// bound and the verdict, and throws when the check fails, so an executed
// notebook stops at the first false claim.

import { describeValue, formatShape, type ArrayConvertible } from "./matrix.js";

/** Formats a number for check lines: 4 significant digits, exponent form when tiny or huge. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude < 1e-3 || magnitude >= 1e6) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

function report(passed: boolean, claim: string, detail: string): void {
  const line = `${passed ? "PASS" : "FAIL"}  ${claim}: ${detail}`;
  if (!passed) throw new Error(`check failed: ${claim}: ${detail}`);
  console.log(line);
}

function checkClaim(functionName: string, claim: unknown): asserts claim is string {
  if (typeof claim !== "string" || claim.length === 0) {
    throw new TypeError(
      `${functionName}: claim must be a non-empty string, got ${describeValue(claim)}`,
    );
  }
}

function checkNumber(functionName: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${functionName}: ${name} must be a number, got ${describeValue(value)}`);
  }
}

/**
 * Checks `value <= bound` and prints `PASS  claim: value = v <= bound b`.
 * NaN never passes.
 *
 * @throws Error when the check fails (the message repeats the claim, value and bound).
 * @throws TypeError when `claim` is not a non-empty string or `value` or `bound` is not a number.
 */
export function checkAtMost(claim: string, value: number, bound: number): void {
  checkClaim("checkAtMost", claim);
  checkNumber("checkAtMost", "value", value);
  checkNumber("checkAtMost", "bound", bound);
  report(value <= bound, claim, `value = ${formatNumber(value)}, bound <= ${formatNumber(bound)}`);
}

/**
 * Checks `value >= bound` and prints the claim, the value and the bound. NaN never passes.
 *
 * @throws Error when the check fails.
 * @throws TypeError when `claim` is not a non-empty string or `value` or `bound` is not a number.
 */
export function checkAtLeast(claim: string, value: number, bound: number): void {
  checkClaim("checkAtLeast", claim);
  checkNumber("checkAtLeast", "value", value);
  checkNumber("checkAtLeast", "bound", bound);
  report(value >= bound, claim, `value = ${formatNumber(value)}, bound >= ${formatNumber(bound)}`);
}

/**
 * Checks `low <= value <= high` and prints the claim, the value and the interval. NaN never passes.
 *
 * @throws Error when the check fails.
 * @throws TypeError when `claim` is not a non-empty string or a value is not a number.
 * @throws RangeError when `low > high`.
 */
export function checkBetween(claim: string, value: number, low: number, high: number): void {
  checkClaim("checkBetween", claim);
  checkNumber("checkBetween", "value", value);
  checkNumber("checkBetween", "low", low);
  checkNumber("checkBetween", "high", high);
  if (!(low <= high)) {
    throw new RangeError(`checkBetween: low must be <= high, got low = ${low} and high = ${high}`);
  }
  report(
    value >= low && value <= high,
    claim,
    `value = ${formatNumber(value)}, expected in [${formatNumber(low)}, ${formatNumber(high)}]`,
  );
}

/**
 * Checks a boolean fact and prints the claim with a description of what was observed.
 *
 * @throws Error when `condition` is false.
 * @throws TypeError when `claim` is not a non-empty string or `condition` is not a boolean.
 */
export function checkTrue(claim: string, condition: boolean, observed: string): void {
  checkClaim("checkTrue", claim);
  if (typeof condition !== "boolean") {
    throw new TypeError(`checkTrue: condition must be a boolean, got ${describeValue(condition)}`);
  }
  report(condition, claim, observed);
}

type Nested = number | Nested[];

function toNested(value: unknown, functionName: string, argumentName: string): Nested {
  if (typeof value === "number") return value;
  if (Array.isArray(value)) return value as Nested[];
  if (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ArrayConvertible).toArray === "function"
  ) {
    return (value as ArrayConvertible).toArray() as Nested;
  }
  throw new TypeError(
    `${functionName}: ${argumentName} must be a Tensor, nested number arrays or a number, got ${describeValue(value)}`,
  );
}

function shapeOf(value: Nested): number[] {
  const shape: number[] = [];
  let level: Nested = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

function flatten(value: Nested, into: number[]): void {
  if (Array.isArray(value)) for (const item of value) flatten(item, into);
  else into.push(value);
}

/**
 * Returns the largest absolute difference between two tensors or nested arrays
 * of the same shape. A NaN on either side, or infinities that differ, give
 * Infinity, so a check on the result fails. Equal infinities count as 0.
 *
 * @throws TypeError when an argument is not a tensor, nested number arrays or a number.
 * @throws RangeError when the shapes differ.
 */
export function maxAbsDifference(actual: unknown, expected: unknown): number {
  const a = toNested(actual, "maxAbsDifference", "actual");
  const b = toNested(expected, "maxAbsDifference", "expected");
  const shapeA = shapeOf(a);
  const shapeB = shapeOf(b);
  const flatA: number[] = [];
  const flatB: number[] = [];
  flatten(a, flatA);
  flatten(b, flatB);
  if (shapeA.join(",") !== shapeB.join(",") || flatA.length !== flatB.length) {
    throw new RangeError(
      `maxAbsDifference: actual and expected must have the same shape, got ${formatShape(shapeA)} and ${formatShape(shapeB)}`,
    );
  }
  let largest = 0;
  for (let i = 0; i < flatA.length; i++) {
    const x = flatA[i];
    const y = flatB[i];
    let difference: number;
    if (Number.isNaN(x) || Number.isNaN(y)) difference = Infinity;
    else if (x === y) difference = 0;
    else difference = Math.abs(x - y);
    if (Number.isNaN(difference)) difference = Infinity;
    if (difference > largest) largest = difference;
  }
  return largest;
}

/**
 * Checks that two tensors or nested arrays agree entry by entry within
 * `tolerance` (absolute), and prints the largest difference beside the bound.
 *
 * @throws Error when the largest difference exceeds the tolerance or a NaN appears.
 * @throws RangeError when the shapes differ or `tolerance` is negative.
 */
export function checkClose(
  claim: string,
  actual: unknown,
  expected: unknown,
  tolerance: number,
): void {
  checkClaim("checkClose", claim);
  checkNumber("checkClose", "tolerance", tolerance);
  if (!(tolerance >= 0)) {
    throw new RangeError(`checkClose: tolerance must be >= 0, got ${tolerance}`);
  }
  const difference = maxAbsDifference(actual, expected);
  report(
    difference <= tolerance,
    claim,
    `max |actual - expected| = ${formatNumber(difference)}, bound <= ${formatNumber(tolerance)}`,
  );
}

/** Result of a least-squares line through (log x, log y). */
export interface PowerLawFit {
  /** Exponent b of y = a x^b: the slope on a log-log plot. */
  slope: number;
  /** a of y = a x^b. */
  coefficient: number;
  /** Coefficient of determination of the fit in log space (1 is a perfect line). */
  rSquared: number;
}

/**
 * Fits y = a x^b by least squares on (log x, log y) and returns b (the log-log
 * slope), a and R^2.
 *
 * @throws TypeError when `x` or `y` is not an array of numbers.
 * @throws RangeError when the lengths differ, fewer than 2 points are given, a value is
 *   not finite and > 0, or all x are equal.
 * @example
 * fitPowerLaw([1, 2, 4], [3, 12, 48]).slope; // 2
 */
export function fitPowerLaw(x: readonly number[], y: readonly number[]): PowerLawFit {
  for (const [name, values] of [
    ["x", x],
    ["y", y],
  ] as const) {
    if (!Array.isArray(values) || values.some((v) => typeof v !== "number")) {
      throw new TypeError(
        `fitPowerLaw: ${name} must be an array of numbers, got ${describeValue(values)}`,
      );
    }
    const bad = values.findIndex((v) => !(Number.isFinite(v) && v > 0));
    if (bad >= 0) {
      throw new RangeError(
        `fitPowerLaw: ${name}[${bad}] must be a finite number > 0, got ${String(values[bad])}`,
      );
    }
  }
  if (x.length !== y.length) {
    throw new RangeError(
      `fitPowerLaw: x and y must have the same length, got ${x.length} and ${y.length}`,
    );
  }
  if (x.length < 2) {
    throw new RangeError(`fitPowerLaw: at least 2 points are needed, got ${x.length}`);
  }
  const lx = x.map(Math.log);
  const ly = y.map(Math.log);
  const meanX = lx.reduce((s, v) => s + v, 0) / lx.length;
  const meanY = ly.reduce((s, v) => s + v, 0) / ly.length;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < lx.length; i++) {
    sxx += (lx[i] - meanX) ** 2;
    sxy += (lx[i] - meanX) * (ly[i] - meanY);
    syy += (ly[i] - meanY) ** 2;
  }
  if (sxx === 0) {
    throw new RangeError(
      `fitPowerLaw: x must hold at least two different values, got all equal to ${x[0]}`,
    );
  }
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  const rSquared = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, coefficient: Math.exp(intercept), rSquared };
}
