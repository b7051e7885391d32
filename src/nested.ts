// Conversion of nested JavaScript arrays into a flat buffer and a shape, with
// errors that point at the first offending element.

import { formatPath, formatShape, formatValue } from "./format.js";

/** A number or an arbitrarily deep nested array of numbers. */
export type NestedNumberArray = number | readonly NestedNumberArray[];

/** A boolean or an arbitrarily deep nested array of booleans. */
export type NestedBooleanArray = boolean | readonly NestedBooleanArray[];

/** Deepest nesting accepted; it also stops an array that contains itself. */
export const MAX_DEPTH = 64;

/** What a nested array may hold: numbers only, or booleans (read as 1 and 0) too. */
export type LeafKind = "number" | "number-or-boolean";

/**
 * Infers the shape of a nested array from its first elements and checks that
 * every sub-array has the same length at the same depth.
 *
 * @throws {RangeError} when the nested array is ragged or nested more than MAX_DEPTH levels.
 */
export function nestedShape(values: unknown, where: string, name: string): number[] {
  const shape: number[] = [];
  let probe: unknown = values;
  while (Array.isArray(probe)) {
    if (shape.length === MAX_DEPTH) {
      throw new RangeError(
        `${where}: ${name} is nested more than ${MAX_DEPTH} levels deep (an array that contains ` +
          `itself?); expected a nested array with at most ${MAX_DEPTH} dims`,
      );
    }
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0];
  }
  checkRectangular(values, shape, 0, [], where, name);
  return shape;
}

function checkRectangular(
  value: unknown,
  shape: readonly number[],
  depth: number,
  path: number[],
  where: string,
  name: string,
): void {
  if (depth === shape.length) {
    if (Array.isArray(value)) {
      throw new RangeError(
        `${where}: ${formatPath(name, path)} is an array, but ${formatPath(
          name,
          path.map(() => 0),
        )} ` +
          `is a single value; expected a rectangular nested array (every element at depth ${depth} a value)`,
      );
    }
    return;
  }
  if (!Array.isArray(value)) {
    throw new RangeError(
      `${where}: ${formatPath(name, path)} is ${formatValue(value)}, but the nested array has shape ` +
        `${formatShape(shape)} from its first elements; expected an array of length ${shape[depth]} there ` +
        `(the nested array is ragged)`,
    );
  }
  if (value.length !== shape[depth]) {
    throw new RangeError(
      `${where}: ${formatPath(name, path)} has length ${value.length}, but ` +
        `${formatPath(
          name,
          path.map(() => 0),
        )} has length ${shape[depth]}; expected a rectangular ` +
        `nested array (the nested array is ragged)`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    path.push(i);
    checkRectangular(value[i], shape, depth + 1, path, where, name);
    path.pop();
  }
}

/**
 * Flattens a rectangular nested array of the given shape into `out` in
 * row-major order. Booleans become 1 and 0 when `leaves` allows them.
 *
 * @throws {TypeError} when a leaf is not a number (or boolean, where allowed).
 */
export function flattenNested(
  values: unknown,
  shape: readonly number[],
  out: Float64Array | Float32Array,
  leaves: LeafKind,
  where: string,
  name: string,
): void {
  let position = 0;
  const path: number[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof value === "number") {
        out[position++] = value;
      } else if (typeof value === "boolean" && leaves === "number-or-boolean") {
        out[position++] = value ? 1 : 0;
      } else {
        const accepted = leaves === "number" ? "a number" : "a boolean or a number";
        throw new TypeError(
          `${where}: ${formatPath(name, path)} is ${formatValue(value)}; expected ${accepted}`,
        );
      }
      return;
    }
    const array = value as readonly unknown[];
    for (let i = 0; i < array.length; i++) {
      path.push(i);
      visit(array[i], depth + 1);
      path.pop();
    }
  };
  visit(values, 0);
}
