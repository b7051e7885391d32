// A reader for the safetensors format: an 8-byte little-endian header length N,
// N bytes of JSON describing each tensor, then the raw little-endian data.

import { readFileSync } from "node:fs";

import { formatShape, formatValue } from "../format.js";
import { Tensor, allocate, type DType } from "../tensor.js";

/** Element types the safetensors format defines that this reader converts to floats. */
export type SafetensorsDType =
  "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const BYTES_PER_ELEMENT: Record<SafetensorsDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** One tensor's entry in a safetensors header. */
export interface SafetensorsEntry {
  /** Tensor name, such as `encoder.layer.0.attention.self.query.weight`. */
  readonly name: string;
  /** Element type as stored in the file. */
  readonly dtype: SafetensorsDType;
  /** Shape, row-major. */
  readonly shape: readonly number[];
  /** Byte range `[begin, end)` relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
}

// The largest header this reader accepts (the reference implementation uses 100 MB).
const MAX_HEADER_BYTES = 100_000_000;

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A parsed safetensors file: its header entries, its `__metadata__` and the
 * bytes of its data section. Tensors are converted on request by {@link SafetensorsFile.tensor}.
 */
export class SafetensorsFile {
  /** String metadata from the header's `__metadata__` object (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Entries by tensor name, in header order. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  /** Name of the file or buffer, used in error messages. */
  readonly source: string;
  private readonly bytes: Uint8Array;
  private readonly dataStart: number;

  /** Wraps already-validated parts; use {@link parseSafetensors} or {@link readSafetensors}. */
  constructor(
    bytes: Uint8Array,
    dataStart: number,
    entries: ReadonlyMap<string, SafetensorsEntry>,
    metadata: Readonly<Record<string, string>>,
    source: string,
  ) {
    this.bytes = bytes;
    this.dataStart = dataStart;
    this.entries = entries;
    this.metadata = metadata;
    this.source = source;
  }

  /** Returns the tensor names in header order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Returns true when the file contains a tensor with this name. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /**
   * Converts one stored tensor to a dotattn {@link Tensor} of `dtype`
   * (float32 unless given). Integer and boolean tensors are converted to
   * floats; I64 values beyond 2^53 lose precision.
   *
   * @throws {TypeError} when `name` is not a string or `options.dtype` is not "float64" or "float32".
   * @throws {RangeError} when the file has no tensor called `name`.
   */
  tensor(name: string, options: { dtype?: DType } = {}): Tensor {
    const where = "SafetensorsFile.tensor";
    if (typeof name !== "string") {
      throw new TypeError(
        `${where}: name is ${formatValue(name)}; expected a tensor name (a string)`,
      );
    }
    const dtype = options.dtype ?? "float32";
    if (dtype !== "float64" && dtype !== "float32") {
      throw new TypeError(
        `${where}: options.dtype is ${formatValue(dtype)}; expected "float64" or "float32"`,
      );
    }
    const entry = this.entries.get(name);
    if (entry === undefined) {
      throw new RangeError(
        `${where}: ${this.source} has no tensor named ${formatValue(name)}; ` +
          `it has ${this.entries.size} tensors, such as ${formatValue(this.names()[0] ?? "")}`,
      );
    }
    const begin = this.dataStart + entry.dataOffsets[0];
    const count = (entry.dataOffsets[1] - entry.dataOffsets[0]) / BYTES_PER_ELEMENT[entry.dtype];
    const out = allocate(dtype, count);
    decode(this.bytes, begin, count, entry.dtype, out);
    return new Tensor(out, entry.shape);
  }
}

function decode(
  bytes: Uint8Array,
  begin: number,
  count: number,
  dtype: SafetensorsDType,
  out: Float64Array | Float32Array,
): void {
  const byteLength = count * BYTES_PER_ELEMENT[dtype];
  if (littleEndianHost && (dtype === "F32" || dtype === "F64")) {
    // Copy to an aligned buffer, then read it as a typed array of the stored type.
    // (Buffer.prototype.slice returns a view, so copy explicitly.)
    const copy = new Uint8Array(byteLength);
    copy.set(bytes.subarray(begin, begin + byteLength));
    out.set(dtype === "F32" ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer));
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + begin, byteLength);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case "F64":
        out[i] = view.getFloat64(i * 8, true);
        break;
      case "F32":
        out[i] = view.getFloat32(i * 4, true);
        break;
      case "F16":
        out[i] = halfToNumber(view.getUint16(i * 2, true));
        break;
      case "BF16":
        out[i] = bfloat16ToNumber(view.getUint16(i * 2, true));
        break;
      case "I64":
        out[i] = Number(view.getBigInt64(i * 8, true));
        break;
      case "I32":
        out[i] = view.getInt32(i * 4, true);
        break;
      case "I16":
        out[i] = view.getInt16(i * 2, true);
        break;
      case "I8":
        out[i] = view.getInt8(i);
        break;
      case "U8":
        out[i] = view.getUint8(i);
        break;
      case "BOOL":
        out[i] = view.getUint8(i) === 0 ? 0 : 1;
        break;
    }
  }
}

function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const bfloatScratch = new DataView(new ArrayBuffer(4));
function bfloat16ToNumber(bits: number): number {
  bfloatScratch.setUint32(0, bits << 16);
  return bfloatScratch.getFloat32(0);
}

/**
 * Parses the bytes of a safetensors file and validates its header: the
 * header length fits the file, the header is a JSON object, every entry has a
 * known dtype, a shape of integers >= 0 and byte offsets whose length matches
 * the shape, and the entries cover the data section without gaps or overlaps.
 *
 * @param bytes the whole file.
 * @param source a name for error messages (a path, or "buffer").
 * @throws {TypeError} when `bytes` is not a Uint8Array.
 * @throws {RangeError} when the file is shorter than its header says, the header is not valid
 *   JSON or an entry is malformed (the message names the entry and the field).
 */
export function parseSafetensors(bytes: Uint8Array, source = "buffer"): SafetensorsFile {
  const where = "parseSafetensors";
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `${where}: bytes is ${formatValue(bytes)}; expected a Uint8Array (a Node Buffer works)`,
    );
  }
  const fail = (message: string): never => {
    throw new RangeError(`${where}: ${source}: ${message}`);
  };
  if (bytes.length < 8)
    fail(`file is ${bytes.length} bytes long; expected at least 8 (the header length)`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    fail(
      `header length is ${headerLength} bytes, but the file has ${bytes.length - 8} bytes after the ` +
        `length field (limit ${MAX_HEADER_BYTES}); expected a safetensors file`,
    );
  }
  const dataStart = 8 + Number(headerLength);
  const headerText = new TextDecoder("utf-8", { fatal: false }).decode(
    bytes.subarray(8, dataStart),
  );
  if (!headerText.startsWith("{")) fail(`header does not start with "{"; expected a JSON object`);
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (error) {
    fail(`header is not valid JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail(`header is ${formatValue(header)}; expected a JSON object`);
  }

  const dataLength = bytes.length - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(raw, fail);
      continue;
    }
    entries.set(name, parseEntry(name, raw, dataLength, fail));
  }

  // The entries must tile the data section: sorted by offset, each begins where the previous ends.
  const sorted = [...entries.values()].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0]);
  let cursor = 0;
  for (const entry of sorted) {
    if (entry.dataOffsets[0] !== cursor) {
      const what =
        entry.dataOffsets[0] < cursor ? "overlaps the previous tensor" : "leaves a gap before it";
      fail(
        `tensor ${formatValue(entry.name)} starts at byte ${entry.dataOffsets[0]}, which ${what} (expected ${cursor})`,
      );
    }
    cursor = entry.dataOffsets[1];
  }
  if (cursor !== dataLength) {
    fail(
      `the tensors cover ${cursor} bytes, but the data section has ${dataLength}; expected them to be equal`,
    );
  }
  return new SafetensorsFile(bytes, dataStart, entries, metadata, source);
}

function parseMetadata(raw: unknown, fail: (message: string) => never): Record<string, string> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    fail(`__metadata__ is ${formatValue(raw)}; expected an object of strings`);
  }
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== "string")
      fail(`__metadata__.${key} is ${formatValue(value)}; expected a string`);
    metadata[key] = value as string;
  }
  return metadata;
}

function parseEntry(
  name: string,
  raw: unknown,
  dataLength: number,
  fail: (message: string) => never,
): SafetensorsEntry {
  const field = `tensor ${formatValue(name)}`;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    fail(`${field} is ${formatValue(raw)}; expected an object with dtype, shape and data_offsets`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== "string" || !(dtype in BYTES_PER_ELEMENT)) {
    fail(
      `${field}.dtype is ${formatValue(dtype)}; expected one of ${Object.keys(BYTES_PER_ELEMENT).join(", ")}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`${field}.shape is ${formatValue(shape)}; expected an array of integers >= 0`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1] ||
    offsets[1] > dataLength
  ) {
    fail(
      `${field}.data_offsets is ${JSON.stringify(offsets)}; expected [begin, end] with ` +
        `0 <= begin <= end <= ${dataLength} (the data section length)`,
    );
  }
  const typedShape = shape as number[];
  const [begin, end] = offsets as [number, number];
  const bytesPerElement = BYTES_PER_ELEMENT[dtype as SafetensorsDType];
  const expected = typedShape.reduce((a, b) => a * b, 1) * bytesPerElement;
  if (end - begin !== expected) {
    fail(
      `${field} has shape ${formatShape(typedShape)} and dtype ${dtype}, which need ${expected} bytes, ` +
        `but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return {
    name,
    dtype: dtype as SafetensorsDType,
    shape: Object.freeze([...typedShape]),
    dataOffsets: [begin, end],
  };
}

/**
 * Reads and parses a safetensors file from disk (see {@link parseSafetensors}).
 *
 * @throws {TypeError} when `path` is not a string.
 * @throws {Error} from the file system when the file cannot be read (ENOENT and so on).
 * @throws {RangeError} when the file is not valid safetensors.
 */
export function readSafetensors(path: string): SafetensorsFile {
  if (typeof path !== "string") {
    throw new TypeError(
      `readSafetensors: path is ${formatValue(path)}; expected a file path (a string)`,
    );
  }
  return parseSafetensors(readFileSync(path), path);
}
