// Normalises the matrices that the display helpers accept (a dotattn Tensor or
// nested number arrays) into plain nested arrays with a checked shape.

/** Anything with a shape and a `toArray()`, such as a dotattn `Tensor`. */
export interface ArrayConvertible {
  readonly shape: readonly number[];
  toArray(): unknown;
}

/** Matrices accepted by the heatmap helpers: a tensor or nested number arrays. */
export type MatrixInput = ArrayConvertible | readonly unknown[];

/** Formats a shape the way dotattn errors do: `[2, 3, 4]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Describes a value for an error message: its type and a short preview. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === "string") {
    const preview = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    return `the string ${JSON.stringify(preview)}`;
  }
  if (typeof value === "number") return `the number ${String(value)}`;
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return `${typeof value} ${String(value)}`;
}

function isArrayConvertible(value: unknown): value is ArrayConvertible {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Array.isArray((value as ArrayConvertible).shape) &&
    typeof (value as ArrayConvertible).toArray === "function"
  );
}

/** Returns the shape of a rectangular nested array, or throws naming the ragged index. */
function nestedShape(value: unknown, where: string, depthLimit: number): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (shape.length > depthLimit) break;
    if (level.length === 0) break;
    level = level[0];
  }
  checkRectangular(value, shape, 0, where);
  return shape;
}

function checkRectangular(value: unknown, shape: number[], depth: number, path: string): void {
  if (depth === shape.length) {
    if (Array.isArray(value)) {
      throw new TypeError(
        `${path}: expected a number, got ${describeValue(value)} (nested arrays must be rectangular)`,
      );
    }
    return;
  }
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${path}: expected an array of length ${shape[depth]}, got ${describeValue(value)} (nested arrays must be rectangular)`,
    );
  }
  if (value.length !== shape[depth]) {
    throw new RangeError(
      `${path}: expected ${shape[depth]} entries, got ${value.length} (nested arrays must be rectangular)`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    checkRectangular(value[i], shape, depth + 1, `${path}[${i}]`);
  }
}

/**
 * Converts a 2-d to 4-d matrix input into `(layers, heads, L, S)` nested arrays.
 *
 * 2 dims are `(L, S)`, 3 dims `(heads, L, S)` and 4 dims `(layers, heads, L, S)`.
 * Entries are returned as given (numbers, possibly NaN or infinite); the caller
 * checks their range.
 */
export function toLayerStack(
  value: unknown,
  functionName: string,
  argumentName: string,
): number[][][][] {
  const where = `${functionName}: ${argumentName}`;
  let shape: number[];
  let nested: unknown;
  if (isArrayConvertible(value)) {
    shape = [...value.shape];
    nested = value.toArray();
  } else if (Array.isArray(value)) {
    nested = value;
    shape = nestedShape(value, where, 4);
  } else {
    throw new TypeError(
      `${where} must be a Tensor or nested number arrays of 2 to 4 dims (L, S), (heads, L, S) or (layers, heads, L, S), got ${describeValue(value)}`,
    );
  }
  if (shape.length < 2 || shape.length > 4) {
    throw new RangeError(
      `${where} must have 2 to 4 dims (L, S), (heads, L, S) or (layers, heads, L, S), got shape ${formatShape(shape)}`,
    );
  }
  if (shape.length >= 3 && shape[shape.length - 3] === 0) {
    throw new RangeError(`${where} must hold at least one head, got shape ${formatShape(shape)}`);
  }
  if (shape.length === 4 && shape[0] === 0) {
    throw new RangeError(`${where} must hold at least one layer, got shape ${formatShape(shape)}`);
  }
  const rows = shape[shape.length - 2];
  const columns = shape[shape.length - 1];
  const asMatrix = (matrix: unknown): number[][] => {
    // A nested array with a zero dim loses its inner lengths: rebuild the empty rows.
    if (rows === 0) return [];
    return (matrix as unknown[][]).map((row) => (columns === 0 ? [] : (row as number[])));
  };
  let stack: number[][][][];
  if (shape.length === 2) stack = [[asMatrix(nested)]];
  else if (shape.length === 3) stack = [(nested as unknown[]).map(asMatrix)];
  else stack = (nested as unknown[][]).map((layer) => layer.map(asMatrix));
  for (let layer = 0; layer < stack.length; layer++) {
    for (let head = 0; head < stack[layer].length; head++) {
      const matrix = stack[layer][head];
      for (let i = 0; i < matrix.length; i++) {
        for (let j = 0; j < matrix[i].length; j++) {
          if (typeof matrix[i][j] !== "number") {
            throw new TypeError(
              `${where}${indexSuffix(shape.length, layer, head, i, j)}: expected a number, got ${describeValue(matrix[i][j])}`,
            );
          }
        }
      }
    }
  }
  return stack;
}

/** Formats the index of one entry in the caller's own dims, e.g. `[1][0][2]` for 3 dims. */
export function indexSuffix(
  ndim: number,
  layer: number,
  head: number,
  i: number,
  j: number,
): string {
  const index = ndim === 2 ? [i, j] : ndim === 3 ? [head, i, j] : [layer, head, i, j];
  return index.map((k) => `[${k}]`).join("");
}

/** Returns the number of dims of a matrix input (2 to 4), read the same way as `toLayerStack`. */
export function inputRank(value: unknown): number {
  if (isArrayConvertible(value)) return value.shape.length;
  let rank = 0;
  let level: unknown = value;
  while (Array.isArray(level)) {
    rank++;
    if (level.length === 0) break;
    level = level[0];
  }
  return rank;
}
