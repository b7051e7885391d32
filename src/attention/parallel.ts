// Runs the work units of a large attention call on worker threads as well as
// on the calling thread, behind the same synchronous API.
//
// Only in Node, and only when this module is compiled JavaScript (the worker
// loads worker.js next to it): under a TypeScript loader, in a browser or a
// bundle, and for small calls, runInParallel returns false and the caller runs
// the plain single-threaded path, which stays the reference. Set the
// environment variable DOTATTN_THREADS to the number of threads to use
// (1 turns workers off, read at every call; the worker count is fixed at the
// first parallel call); the default is one per available core, at most 4.
//
// Protocol: a shared Int32Array holds the next unclaimed unit, the count of
// finished units, the owner of each unit (the calling thread or a worker)
// and a done flag per unit. The calling thread and the workers claim units
// with Atomics.add until none is left, so a worker that starts late only
// takes fewer units. The calling thread writes its units straight into the
// result; workers write into shared buffers, whose rows of the workers' units
// the calling thread copies over once it has waited (Atomics.wait) for every
// claimed unit. Each unit writes disjoint rows, so the result is
// bit-identical to the single-threaded path.
//
// Memory: a worker receives a copy of the inputs (postMessage clones them),
// and the first parallel call starts the workers, each a V8 isolate of its
// own.

import type { AttentionCall } from "../normalize.js";
import type { TensorData } from "../tensor.js";
import { attendUnitsOnline, QUERY_TILE } from "./memoryEfficient.js";
import { attendUnits, UNIT_ROWS } from "./sdpa.js";
import { selectWasmKernels, wasmRequested } from "./wasm/kernels.js";

/** Kernel of a job: the exact one with weights, or the online softmax. */
export type ParallelKind = "attention" | "online";

/** A job as the workers receive it. */
export interface ParallelJob {
  kind: ParallelKind;
  call: AttentionCall;
  units: number;
  control: Int32Array;
  output: TensorData;
  weights: TensorData | null;
  /** Whether the calling thread asked for the WebAssembly kernels; workers follow it. */
  wasm: boolean;
}

/** Control words before the per-unit owners and done flags. */
export const NEXT_UNIT = 0;
export const DONE_UNITS = 1;
export const OWNER_BASE = 2;

/** Owner values: who claimed a unit. */
export const CALLER = 1;
export const WORKER = 2;

/** Multiply-adds below which a call stays on one thread (about 5 ms of work). */
const MIN_PARALLEL_WORK = 16_000_000;
/** How long the calling thread waits for a claimed unit before computing it itself. */
const STALL_TIMEOUT_MS = 30_000;

interface WorkerLike {
  postMessage(message: unknown): void;
  unref(): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
}

interface Pool {
  workers: WorkerLike[];
}

let pool: Pool | null | undefined;

/** Returns a `next()` that hands out units `0 .. units` once each, then -1. */
export function countUnits(units: number): () => number {
  let unit = 0;
  return () => (unit < units ? unit++ : -1);
}

/**
 * Returns a `next()` over the shared control words that claims units for
 * `owner` and marks the previous unit done.
 */
export function claimUnits(control: Int32Array, units: number, owner: number): () => number {
  let previous = -1;
  return () => {
    if (previous >= 0) {
      Atomics.store(control, OWNER_BASE + units + previous, 1);
      Atomics.add(control, DONE_UNITS, 1);
      Atomics.notify(control, DONE_UNITS);
    }
    const unit = Atomics.add(control, NEXT_UNIT, 1);
    if (unit >= units) {
      previous = -1;
      return -1;
    }
    Atomics.store(control, OWNER_BASE + unit, owner);
    previous = unit;
    return unit;
  };
}

function threadCount(): number {
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  const requested = Number(proc?.env?.DOTATTN_THREADS);
  if (Number.isInteger(requested) && requested >= 1) return requested;
  const os = proc?.getBuiltinModule?.("node:os") as typeof import("node:os") | undefined;
  const cores = os?.availableParallelism?.() ?? 1;
  return Math.min(cores, 4);
}

function getPool(): Pool | null {
  if (pool !== undefined) return pool;
  pool = null;
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  const url = import.meta.url;
  // Workers need this file's compiled neighbour worker.js.
  if (!url.startsWith("file:") || !url.endsWith(".js")) return pool;
  const threads = proc?.getBuiltinModule?.("node:worker_threads") as
    typeof import("node:worker_threads") | undefined;
  const count = threadCount() - 1;
  if (!threads || count < 1) return pool;

  const created: Pool = { workers: [] };
  for (let w = 0; w < count; w++) {
    const worker = new threads.Worker(new URL("./worker.js", url));
    worker.unref();
    // A failed worker stops taking units, and later calls stay
    // single-threaded. A unit it claimed but never finished is computed by
    // the calling thread after STALL_TIMEOUT_MS.
    worker.on("error", () => {
      pool = null;
    });
    created.workers.push(worker as unknown as WorkerLike);
  }
  pool = created;
  return pool;
}

/**
 * Runs `units` work units of a call on the workers and the calling thread,
 * writing into `output` and `weights` (zero-filled). Returns false, having
 * done nothing, when workers are unavailable or the call is too small to
 * gain from them.
 */
export function runInParallel(
  kind: ParallelKind,
  call: AttentionCall,
  units: number,
  output: TensorData,
  weights: TensorData | null,
): boolean {
  const work = call.batch * call.L * call.S * (call.E + call.Ev);
  if (units < 2 || work < MIN_PARALLEL_WORK || threadCount() < 2) return false;
  const active = getPool();
  if (active === null) return false;

  // Step 1: shared outputs for the workers and control words; the call
  // itself is copied to each worker by postMessage (its typed arrays are
  // read-only inputs). Pages of the shared outputs that no worker writes are
  // never touched, so they cost no memory.
  const Shared = output instanceof Float32Array ? Float32Array : Float64Array;
  const sharedOutput = new Shared(new SharedArrayBuffer(output.byteLength));
  const sharedWeights =
    weights === null ? null : new Shared(new SharedArrayBuffer(weights.byteLength));
  const control = new Int32Array(new SharedArrayBuffer(4 * (OWNER_BASE + 2 * units)));
  const job: ParallelJob = {
    kind,
    call,
    units,
    control,
    output: sharedOutput,
    weights: sharedWeights,
    wasm: wasmRequested(),
  };
  for (const worker of active.workers) worker.postMessage(job);

  // Step 2: take units on this thread too, then wait for the claimed ones.
  const own: ParallelJob = { ...job, output, weights };
  runUnits(own, claimUnits(control, units, CALLER));
  const recomputed = waitForUnits(own);

  // Step 3: copy the rows of the workers' units into the result.
  const rowsPerUnit = kind === "attention" ? UNIT_ROWS : QUERY_TILE;
  const unitsPerBatch = Math.ceil(call.L / rowsPerUnit);
  for (let u = 0; u < units; u++) {
    if (control[OWNER_BASE + u] !== WORKER || recomputed.has(u)) continue;
    const b = Math.floor(u / unitsPerBatch);
    const i0 = b * call.L + (u % unitsPerBatch) * rowsPerUnit;
    const i1 = b * call.L + Math.min(call.L, ((u % unitsPerBatch) + 1) * rowsPerUnit);
    output.set(sharedOutput.subarray(i0 * call.Ev, i1 * call.Ev), i0 * call.Ev);
    if (weights !== null && sharedWeights !== null) {
      weights.set(sharedWeights.subarray(i0 * call.S, i1 * call.S), i0 * call.S);
    }
  }
  return true;
}

/** Runs the units that `next` hands out with the kernel a job names. */
export function runUnits(job: ParallelJob, next: () => number): void {
  const wasm = selectWasmKernels(job.wasm);
  if (job.kind === "attention") {
    attendUnits(job.call, next, job.output, job.weights as TensorData, wasm);
  } else {
    attendUnitsOnline(job.call, next, job.output, wasm);
  }
}

/**
 * Blocks until every unit is done; returns the units this thread had to
 * compute itself because a worker stalled on them.
 */
function waitForUnits(own: ParallelJob): Set<number> {
  const { control, units } = own;
  for (;;) {
    const done = Atomics.load(control, DONE_UNITS);
    if (done >= units) return new Set();
    const result = Atomics.wait(control, DONE_UNITS, done, STALL_TIMEOUT_MS);
    if (result === "timed-out" && Atomics.load(control, DONE_UNITS) === done) {
      // NOTE: a worker stalled on a claimed unit; compute the unfinished
      // units here, into this thread's result, and ignore the worker's copy.
      const left: number[] = [];
      for (let u = 0; u < units; u++) {
        if (Atomics.load(control, OWNER_BASE + units + u) !== 1) left.push(u);
      }
      let index = 0;
      runUnits(own, () => (index < left.length ? left[index++] : -1));
      return new Set(left);
    }
  }
}
