// Entry point of an attention worker thread (see parallel.ts): it runs the
// units it claims of every job the calling thread posts, until the process
// exits.

import { parentPort } from "node:worker_threads";
import { claimUnits, runUnits, WORKER, type ParallelJob } from "./parallel.js";

parentPort?.on("message", (job: ParallelJob) => {
  runUnits(job, claimUnits(job.control, job.units, WORKER));
});
