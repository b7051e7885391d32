// Element-wise comparison of a strided tensor with expected values, for tests.
//
// Rules: shapes must match. NaN never matches anything, not even NaN. An
// infinite value matches only the same infinity. Finite values match when
// |actual - expected| <= atol + rtol * |expected|.

/** A tensor as the comparison reads it: row-major shape, element strides and an offset into `data`. */
export interface StridedValues {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
  /** Element strides; contiguous row-major when omitted. */
  readonly strides?: readonly number[];
  /** Index of element [0, ..., 0] in `data`; 0 when omitted. */
  readonly offset?: number;
}

/** Absolute and relative tolerance: an element passes when |actual - expected| <= atol + rtol * |expected|. */
export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

/** One element that failed the comparison. */
export interface Mismatch {
  readonly flatIndex: number;
  readonly index: readonly number[];
  readonly actual: number;
  readonly expected: number;
  /** atol + rtol * |expected|, or NaN when the expected value is not finite. */
  readonly tolerance: number;
}

/** The outcome of a comparison: a shape error, or the failing elements. */
export interface Comparison {
  readonly shapeError: string | null;
  readonly size: number;
  readonly mismatches: readonly Mismatch[];
  /** Largest |actual - expected| over finite pairs; 0 for empty tensors. */
  readonly maxAbsDifference: number;
  /** Largest |actual - expected| / (atol + rtol * |expected|) over finite pairs. */
  readonly maxToleranceRatio: number;
}

const MAX_LISTED_MISMATCHES = 5;

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

function unravel(flatIndex: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  let rest = flatIndex;
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
  }
  return index;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Returns true when one actual value matches one expected value under `tolerance`. */
export function valuesMatch(actual: number, expected: number, tolerance: Tolerance): boolean {
  if (Number.isNaN(actual) || Number.isNaN(expected)) return false;
  if (!Number.isFinite(expected) || !Number.isFinite(actual)) return actual === expected;
  return Math.abs(actual - expected) <= tolerance.atol + tolerance.rtol * Math.abs(expected);
}

/** Compares every element of `actual` with `expected` (both read through their strides). */
export function compareValues(
  actual: StridedValues,
  expected: StridedValues,
  tolerance: Tolerance,
): Comparison {
  const sameShape =
    actual.shape.length === expected.shape.length &&
    actual.shape.every((dim, d) => dim === expected.shape[d]);
  if (!sameShape) {
    return {
      shapeError: `shape ${formatShape(actual.shape)}, expected ${formatShape(expected.shape)}`,
      size: 0,
      mismatches: [],
      maxAbsDifference: NaN,
      maxToleranceRatio: NaN,
    };
  }

  const shape = actual.shape;
  const size = shape.reduce((product, dim) => product * dim, 1);
  const actualStrides = actual.strides ?? contiguousStrides(shape);
  const expectedStrides = expected.strides ?? contiguousStrides(shape);
  const mismatches: Mismatch[] = [];
  let maxAbsDifference = 0;
  let maxToleranceRatio = 0;

  for (let flatIndex = 0; flatIndex < size; flatIndex++) {
    const index = unravel(flatIndex, shape);
    let actualPosition = actual.offset ?? 0;
    let expectedPosition = expected.offset ?? 0;
    for (let d = 0; d < shape.length; d++) {
      actualPosition += index[d] * actualStrides[d];
      expectedPosition += index[d] * expectedStrides[d];
    }
    const a = actual.data[actualPosition];
    const e = expected.data[expectedPosition];
    const allowed = tolerance.atol + tolerance.rtol * Math.abs(e);

    if (Number.isFinite(a) && Number.isFinite(e)) {
      const difference = Math.abs(a - e);
      maxAbsDifference = Math.max(maxAbsDifference, difference);
      // With a zero tolerance, any difference counts as infinitely far off.
      let ratio = difference === 0 ? 0 : Infinity;
      if (allowed > 0) ratio = difference / allowed;
      maxToleranceRatio = Math.max(maxToleranceRatio, ratio);
    }
    if (!valuesMatch(a, e, tolerance)) {
      mismatches.push({
        flatIndex,
        index,
        actual: a,
        expected: e,
        tolerance: Number.isFinite(e) ? allowed : NaN,
      });
    }
  }
  return { shapeError: null, size, mismatches, maxAbsDifference, maxToleranceRatio };
}

/** Formats a comparison as a failure message, or returns null when it passed. */
export function describeComparison(label: string, comparison: Comparison): string | null {
  if (comparison.shapeError !== null) return `${label}: ${comparison.shapeError}`;
  const { mismatches, size } = comparison;
  if (mismatches.length === 0) return null;

  const lines = [
    `${label}: ${mismatches.length} of ${size} elements differ ` +
      `(max |difference| over finite pairs ${comparison.maxAbsDifference})`,
  ];
  for (const m of mismatches.slice(0, MAX_LISTED_MISMATCHES)) {
    const tolerance = Number.isNaN(m.tolerance)
      ? "exact (expected is not finite)"
      : String(m.tolerance);
    lines.push(
      `  element ${m.flatIndex} at ${formatShape(m.index)}: actual ${m.actual}, ` +
        `expected ${m.expected}, tolerance ${tolerance}`,
    );
  }
  if (mismatches.length > MAX_LISTED_MISMATCHES) {
    lines.push(`  ... and ${mismatches.length - MAX_LISTED_MISMATCHES} more`);
  }
  return lines.join("\n");
}

/**
 * Throws an Error listing the failing elements (flat index, multi-index,
 * actual, expected, tolerance) unless `actual` matches `expected`.
 * Returns the comparison so callers can report how close the match was.
 */
export function assertClose(
  label: string,
  actual: StridedValues,
  expected: StridedValues,
  tolerance: Tolerance,
): Comparison {
  const comparison = compareValues(actual, expected, tolerance);
  const message = describeComparison(label, comparison);
  if (message !== null) throw new Error(message);
  return comparison;
}
