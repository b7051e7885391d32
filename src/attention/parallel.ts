// Runs the work units of a large attention call on worker threads as well as
// on the calling thread, behind the same synchronous API.
//
// Only in Node, and only when this module is compiled JavaScript (the worker
// loads worker.js next to it): under a TypeScript loader, in a browser or a
// bundle, and for small calls, runInParallel returns false and the caller runs
// the plain single-threaded path, which stays the reference. Set the
// environment variable DOTATTN_THREADS to the number of threads to use
// (1 turns workers off); the default is one per available core, at most 4.
//
// Protocol: a shared Int32Array holds the next unclaimed unit, the count of
// finished units and a state per unit (0 free, 1 claimed, 2 done). The
// calling thread and the workers claim units with Atomics.add until none is
// left, so a worker that starts late only takes fewer units. The calling
// thread then blocks in Atomics.wait until every claimed unit is done. Each
// unit writes disjoint rows of the outputs, so the result is bit-identical to
// the single-threaded path.

import type { AttentionCall } from "../normalize.js";
import type { TensorData } from "../tensor.js";
import { attendUnitsOnline } from "./memoryEfficient.js";
import { attendUnits } from "./sdpa.js";

/** Which kernel a job runs: the exact one with weights, or the online softmax. */
export type ParallelKind = "attention" | "online";

/** A job as the workers receive it. */
export interface ParallelJob {
  kind: ParallelKind;
  call: AttentionCall;
  units: number;
  control: Int32Array;
  output: TensorData;
  weights: TensorData | null;
}

/** Control words before the per-unit states. */
export const NEXT_UNIT = 0;
export const DONE_UNITS = 1;
export const STATE_BASE = 2;

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

/** Returns a `next()` over the shared control words; it marks the previous unit done. */
export function claimUnits(control: Int32Array, units: number, state: number): () => number {
  let previous = -1;
  return () => {
    if (previous >= 0) {
      Atomics.store(control, STATE_BASE + previous, 2);
      Atomics.add(control, DONE_UNITS, 1);
      Atomics.notify(control, DONE_UNITS);
    }
    const unit = Atomics.add(control, NEXT_UNIT, 1);
    if (unit >= units) {
      previous = -1;
      return -1;
    }
    Atomics.store(control, STATE_BASE + unit, state);
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
    // A failed worker only stops taking units; the calling thread computes
    // what is left, so no call waits on it. Later calls stay single-threaded.
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
  if (units < 2 || work < MIN_PARALLEL_WORK) return false;
  const active = getPool();
  if (active === null) return false;

  // Step 1: shared outputs and control words; the call itself is copied to
  // each worker by postMessage (its typed arrays are read-only inputs).
  const Shared = output instanceof Float32Array ? Float32Array : Float64Array;
  const sharedOutput = new Shared(new SharedArrayBuffer(output.byteLength));
  const sharedWeights =
    weights === null ? null : new Shared(new SharedArrayBuffer(weights.byteLength));
  const control = new Int32Array(new SharedArrayBuffer(4 * (STATE_BASE + units)));
  const job: ParallelJob = {
    kind,
    call,
    units,
    control,
    output: sharedOutput,
    weights: sharedWeights,
  };
  for (const worker of active.workers) worker.postMessage(job);

  // Step 2: take units on this thread too, then wait for the claimed ones.
  runUnits(job, claimUnits(control, units, 1));
  waitForUnits(job);

  output.set(sharedOutput);
  if (weights !== null && sharedWeights !== null) weights.set(sharedWeights);
  return true;
}

/** Runs the units that `next` hands out with the kernel a job names. */
export function runUnits(job: ParallelJob, next: () => number): void {
  if (job.kind === "attention") {
    attendUnits(job.call, next, job.output, job.weights as TensorData);
  } else {
    attendUnitsOnline(job.call, next, job.output);
  }
}

function waitForUnits(job: ParallelJob): void {
  const { control, units } = job;
  for (;;) {
    const done = Atomics.load(control, DONE_UNITS);
    if (done >= units) return;
    const result = Atomics.wait(control, DONE_UNITS, done, STALL_TIMEOUT_MS);
    if (result === "timed-out" && Atomics.load(control, DONE_UNITS) === done) {
      // NOTE: a worker stalled on a claimed unit; compute the unfinished
      // units here. Both threads write the same values, so a late worker
      // cannot corrupt the result.
      const left: number[] = [];
      for (let u = 0; u < units; u++) {
        if (Atomics.load(control, STATE_BASE + u) !== 2) left.push(u);
      }
      let index = 0;
      runUnits(job, () => (index < left.length ? left[index++] : -1));
      return;
    }
  }
}
