// WebAssembly SIMD versions of the register-tile kernels in blocked.ts, for
// the exact and the memory-efficient attention paths.
//
// The module (kernels.wat, embedded as base64 in kernels.generated.ts) is
// compiled synchronously on first use in each thread, so loading the package
// needs no top-level await. Its kernels read and write only the module's own
// memory, so a caller first takes scratch arrays from `scratch()` and keeps
// its keys, values, logits and accumulators there. Each output is summed in
// the same order as the TypeScript kernels, without fused multiply-add, so
// both paths give the same bits. The TypeScript kernels stay the reference
// and the fallback.
//
// The environment variable DOTATTN_WASM=0 turns the WebAssembly path off
// (read at every call); it is also off where WebAssembly SIMD is unavailable.

import { TILE_ROWS } from "../blocked.js";
import { KERNELS_WASM_BASE64 } from "./kernels.generated.js";

// The parts of the WebAssembly JavaScript API used here, declared locally
// because the build's ES2022 library has no WebAssembly types.
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface KernelExports {
  memory: WasmMemory;
  dotTile(
    a: number,
    b: number,
    bStride: number,
    len: number,
    n0: number,
    n1: number,
    out: number,
    outStride: number,
  ): void;
  weightTile(
    w: number,
    wStride: number,
    v: number,
    vStride: number,
    Ev: number,
    j0: number,
    j1: number,
    acc: number,
  ): void;
}

/** Bytes of WebAssembly memory per page. */
const PAGE_BYTES = 65536;

/**
 * Largest scratch in bytes: the kernels compute byte addresses as 32-bit
 * integers, and signed comparisons of indices stay exact below 2 GiB.
 */
const MAX_SCRATCH_BYTES = 2 ** 31 - PAGE_BYTES;

/** The WebAssembly kernels of one thread and the memory they work in. */
export class WasmKernels {
  private readonly exports: KernelExports;
  /** Interleaved copy of the 4 query rows of a tile: feature e of row r at 4 e + r. */
  private interleaved = 0;
  private queryFeatures = 0;
  private memoryView: Float64Array;

  constructor(exports: KernelExports) {
    this.exports = exports;
    this.memoryView = new Float64Array(exports.memory.buffer);
  }

  /**
   * Returns float64 arrays of the given lengths in the module's memory, for
   * tiles whose queries have at most `queryFeatures` features, or null when
   * the memory cannot grow that far. Every call reuses the same memory, so
   * the arrays of the previous call must no longer be in use.
   * NOTE: WebAssembly memory never shrinks, so each thread keeps the largest
   * scratch it has used (about 8 (S E + S Ev) bytes for an exact call).
   */
  scratch(lengths: readonly number[], queryFeatures: number): Float64Array[] | null {
    // Each array starts on a 16-byte boundary for the v128 loads.
    const even = (n: number) => n + (n & 1);
    let total = even(TILE_ROWS * queryFeatures);
    for (const length of lengths) total += even(length);
    const bytes = total * 8;
    if (bytes > MAX_SCRATCH_BYTES) return null;
    const memory = this.exports.memory;
    if (bytes > memory.buffer.byteLength) {
      try {
        memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE_BYTES));
      } catch {
        return null; // RangeError: the engine refused the memory
      }
    }
    this.memoryView = new Float64Array(memory.buffer);
    this.queryFeatures = queryFeatures;
    this.interleaved = 0;
    let offset = even(TILE_ROWS * queryFeatures);
    return lengths.map((length) => {
      const array = new Float64Array(memory.buffer, offset * 8, length);
      offset += even(length);
      return array;
    });
  }

  /**
   * Computes the dot products of 4 rows of `a` with rows `n0 .. n1` of `b`
   * over `len` elements into `out[outBase + r * outStride + n]`, like
   * {@link dotTile} in blocked.ts without accumulation. `b` and `out` must be
   * arrays from {@link WasmKernels.scratch}; `a` may be any array, and `len`
   * at most the `queryFeatures` given there.
   */
  dotTile(
    a: Float64Array,
    aBase: number,
    aStride: number,
    b: Float64Array,
    bBase: number,
    bStride: number,
    len: number,
    n0: number,
    n1: number,
    out: Float64Array,
    outBase: number,
    outStride: number,
  ): void {
    this.checkScratch(b, "b", "dotTile");
    this.checkScratch(out, "out", "dotTile");
    if (len > this.queryFeatures) {
      throw new RangeError(
        `WasmKernels.dotTile: len must be at most the ${this.queryFeatures} query features ` +
          `given to scratch(), got ${len}`,
      );
    }
    const view = this.memoryView;
    const base = this.interleaved;
    for (let r = 0; r < TILE_ROWS; r++) {
      const src = aBase + r * aStride;
      for (let e = 0; e < len; e++) view[base + 4 * e + r] = a[src + e];
    }
    this.exports.dotTile(
      base,
      b.byteOffset / 8 + bBase,
      bStride,
      len,
      n0,
      n1,
      out.byteOffset / 8 + outBase,
      outStride,
    );
  }

  /**
   * Adds `sum_j w[r][j] * v[j]` over keys `j0 .. j1` to
   * `acc[accBase + r * Ev ..]` for the 4 rows r of a tile, like
   * {@link weightTile} in blocked.ts but with V row-major: value feature e of
   * key j is `v[vBase + j * vStride + e]`. All three arrays must come from
   * {@link WasmKernels.scratch}. The same rule holds: masked weights must be
   * 0 and the V rows in the range finite.
   */
  weightTile(
    w: Float64Array,
    wBase: number,
    wStride: number,
    v: Float64Array,
    vBase: number,
    vStride: number,
    Ev: number,
    j0: number,
    j1: number,
    acc: Float64Array,
    accBase: number,
  ): void {
    this.checkScratch(w, "w", "weightTile");
    this.checkScratch(v, "v", "weightTile");
    this.checkScratch(acc, "acc", "weightTile");
    this.exports.weightTile(
      w.byteOffset / 8 + wBase,
      wStride,
      v.byteOffset / 8 + vBase,
      vStride,
      Ev,
      j0,
      j1,
      acc.byteOffset / 8 + accBase,
    );
  }

  private checkScratch(array: Float64Array, name: string, method: string): void {
    if (array.buffer !== this.exports.memory.buffer) {
      throw new TypeError(
        `WasmKernels.${method}: ${name} must be a Float64Array from scratch() on the ` +
          `module's current memory, got one on another buffer of ${array.buffer.byteLength} bytes`,
      );
    }
  }
}

// undefined: not tried yet in this thread; null: unavailable.
let loaded: WasmKernels | null | undefined;

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Returns this thread's WebAssembly kernels, compiling the module on the
 * first call, or null where WebAssembly or its SIMD proposal is unavailable.
 */
export function loadWasmKernels(): WasmKernels | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (api === undefined || typeof atob !== "function") return loaded;
  const bytes = decodeBase64(KERNELS_WASM_BASE64);
  // An engine without SIMD rejects the module: validate returns false.
  if (!api.validate(bytes)) return loaded;
  // NOTE: browsers refuse synchronous compilation of modules over 4 KiB on
  // the main thread; this module is about 2 KiB.
  const instance = new api.Instance(new api.Module(bytes));
  loaded = new WasmKernels(instance.exports as unknown as KernelExports);
  return loaded;
}

/** Returns whether the caller asks for the WebAssembly kernels (DOTATTN_WASM is not "0"). */
export function wasmRequested(): boolean {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.DOTATTN_WASM !== "0";
}

/** Returns the kernels to use when `requested`: this thread's WebAssembly kernels, or null. */
export function selectWasmKernels(requested: boolean): WasmKernels | null {
  return requested ? loadWasmKernels() : null;
}
