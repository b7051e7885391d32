// Helpers that format shapes and values for error messages, so every message
// shows what it got in the same way: shapes in brackets, values as written.

/** Formats a shape as `[2, 3, 4]` (an empty shape, a scalar, is `[]`). */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Formats any value for an error message: numbers as written, strings quoted, arrays by kind. */
export function formatValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "number") {
    if (Object.is(value, -0)) return "-0";
    return String(value);
  }
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "..." : value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "boolean" || typeof value === "symbol") return String(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  const name = (value as object).constructor?.name;
  return name && name !== "Object" ? `a ${name}` : "an object";
}

/** Formats a nested-array index path such as `[1][0]` appended to an argument name. */
export function formatPath(name: string, path: readonly number[]): string {
  return name + path.map((i) => `[${i}]`).join("");
}
