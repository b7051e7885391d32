// Benchmarks dotattn's attention against TensorFlow.js (cpu and wasm
// backends) and a plain JavaScript triple loop, in one run on this machine.
//
//   npm run bench                 # full run, writes docs/benchmarks.json
//   npm run bench -- --quick      # L = S in 128, 512 only, fewer repetitions
//   npm run bench -- --json PATH  # write the results somewhere else
//
// Every peer computes float32 attention of 8 heads with E = Ev = 64, scale
// 1 / sqrt(E), with and without a causal mask: output = softmax(Q K^T *
// scale + mask) V. Times are wall-clock medians of several repetitions after
// a warm-up; the peers take turns within each repetition so that load from
// other processes hits them alike. Each peer's output is checked against
// dotattn's scaledDotProductAttention (max abs difference). Peak memory is
// measured in a fresh child process per case: the growth of the resident set
// (Linux VmHWM after resetting it through /proc/self/clear_refs) during one
// call, with the inputs already allocated.

import { spawnSync } from "node:child_process";
import console from "node:console";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { fileURLToPath } from "node:url";

import * as dotattn from "../dist/index.js";
import { loadWasmKernels } from "../dist/attention/wasm/kernels.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const HEADS = 8;
const E = 64;

// ---------------------------------------------------------------- problems

function makeProblem(heads, L) {
  const Q = dotattn.randn([heads, L, E], { seed: 1, dtype: "float32" });
  const K = dotattn.randn([heads, L, E], { seed: 2, dtype: "float32" });
  const V = dotattn.randn([heads, L, E], { seed: 3, dtype: "float32" });
  return { heads, L, S: L, Q, K, V };
}

// ---------------------------------------------------------------- peers

/** Each peer: `prepare(problem, causal)` returns a function that runs one call and returns the output (heads * L * E floats). */
const PEERS = {
  "dotattn sdpa": {
    prepare: (p, causal) => () =>
      dotattn.scaledDotProductAttention(p.Q, p.K, p.V, null, { isCausal: causal }).output.data,
  },
  "dotattn sdpa, 1 thread": {
    prepare: (p, causal) => () =>
      withEnv(
        "DOTATTN_THREADS",
        "1",
        () =>
          dotattn.scaledDotProductAttention(p.Q, p.K, p.V, null, { isCausal: causal }).output.data,
      ),
  },
  "dotattn sdpa, TS kernels": {
    prepare: (p, causal) => () =>
      withEnv(
        "DOTATTN_WASM",
        "0",
        () =>
          dotattn.scaledDotProductAttention(p.Q, p.K, p.V, null, { isCausal: causal }).output.data,
      ),
  },
  "dotattn memory-efficient": {
    prepare: (p, causal) => () =>
      dotattn.memoryEfficientAttention(p.Q, p.K, p.V, null, { isCausal: causal }).data,
  },
  "tfjs wasm": { prepare: (p, causal) => prepareTf("wasm", p, causal) },
  "tfjs cpu": { prepare: (p, causal) => prepareTf("cpu", p, causal) },
  "plain JS": { prepare: (p, causal) => () => plainAttention(p, causal) },
};

/** Runs `fn` with the environment variable `name` set to `value`, then restores it. */
function withEnv(name, value, fn) {
  const previous = process.env[name];
  process.env[name] = value;
  try {
    return fn();
  } finally {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  }
}

let tf = null;
async function loadTf() {
  if (tf) return tf;
  tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-cpu");
  await import("@tensorflow/tfjs-backend-wasm");
  return tf;
}

const tfBackendReady = new Map();
async function useBackend(name) {
  await loadTf();
  if (tf.getBackend() !== name) await tf.setBackend(name);
  await tf.ready();
  if (!tfBackendReady.has(name)) {
    tfBackendReady.set(name, {
      simd: name === "wasm" ? await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") : null,
      threads: name === "wasm" ? await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT") : null,
    });
  }
}

/**
 * matMul(Q, K, transposeB), times the scale, plus a cached 0/-Infinity causal
 * bias (L, S), softmax, matMul with V. The output is read back to JS; the
 * weights stay on the backend. Tensors are made outside the timed call.
 */
function prepareTf(backend, p, causal) {
  const { heads, L, S } = p;
  let state = null;
  return () => {
    if (tf.getBackend() !== backend)
      throw new Error(`tfjs backend is ${tf.getBackend()}, expected ${backend}`);
    if (state === null) {
      const bias = new Float32Array(L * S);
      for (let i = 0; i < L; i++) for (let j = i + 1; j < S; j++) bias[i * S + j] = -Infinity;
      state = {
        q: tf.tensor3d(p.Q.data, [heads, L, E]),
        k: tf.tensor3d(p.K.data, [heads, S, E]),
        v: tf.tensor3d(p.V.data, [heads, S, E]),
        bias: causal ? tf.tensor2d(bias, [L, S]) : null,
        scale: tf.scalar(1 / Math.sqrt(E)),
      };
    }
    const { q, k, v, bias, scale } = state;
    const out = tf.tidy(() => {
      let scores = tf.mul(tf.matMul(q, k, false, true), scale);
      if (bias) scores = tf.add(scores, bias);
      return tf.matMul(tf.softmax(scores), v);
    });
    const data = out.dataSync();
    out.dispose();
    return data;
  };
}

function disposeTf() {
  if (tf) tf.disposeVariables();
}

/** The textbook triple loop: scores row, softmax, weighted sum of V; float64 arithmetic on float32 storage. */
function plainAttention(p, causal) {
  const { heads, L, S } = p;
  const q = p.Q.data;
  const k = p.K.data;
  const v = p.V.data;
  const scale = 1 / Math.sqrt(E);
  const out = new Float32Array(heads * L * E);
  const weights = new Float32Array(heads * L * S);
  const row = new Float64Array(S);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < L; i++) {
      const end = causal ? i + 1 : S;
      let max = -Infinity;
      for (let j = 0; j < end; j++) {
        let dot = 0;
        for (let e = 0; e < E; e++) dot += q[(h * L + i) * E + e] * k[(h * S + j) * E + e];
        row[j] = dot * scale;
        if (row[j] > max) max = row[j];
      }
      let sum = 0;
      for (let j = 0; j < end; j++) {
        row[j] = Math.exp(row[j] - max);
        sum += row[j];
      }
      for (let j = 0; j < end; j++) {
        const w = row[j] / sum;
        weights[(h * L + i) * S + j] = w;
        for (let e = 0; e < E; e++) out[(h * L + i) * E + e] += w * v[(h * S + j) * E + e];
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- measuring

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function maxAbsDiff(a, b) {
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = d; // NaN wins
  }
  return max;
}

/** FLOPs of both products: 2 L S E each, half of that (plus the diagonal) when causal. */
function flops(heads, L, S, causal) {
  const pairs = causal ? (L * (L + 1)) / 2 : L * S;
  return heads * pairs * 4 * E;
}

function statusMiB(field) {
  const text = fs.readFileSync("/proc/self/status", "utf8");
  const match = text.match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return match ? Number(match[1]) / 1024 : NaN;
}

/**
 * Child-process mode: runs one call of one peer and prints the growth of the
 * resident set during it (MiB) as JSON.
 */
async function memoryChild(peerName, heads, L, causal) {
  if (peerName.startsWith("tfjs")) await useBackend(peerName.split(" ")[1]);
  const problem = makeProblem(heads, L);
  const run = PEERS[peerName].prepare(problem, causal);
  // Creating tfjs tensors is setup, not the call: do it outside the window.
  if (peerName.startsWith("tfjs")) {
    const small = PEERS[peerName].prepare(makeProblem(1, 8), causal);
    small();
  }
  globalThis.gc?.();
  fs.writeFileSync("/proc/self/clear_refs", "5");
  const before = statusMiB("VmRSS");
  run();
  const peak = statusMiB("VmHWM");
  process.stdout.write(JSON.stringify({ peakExtraMiB: peak - before }) + "\n");
}

function measureMemory(peerName, heads, L, causal) {
  const result = spawnSync(
    process.execPath,
    [
      "--expose-gc",
      fileURLToPath(import.meta.url),
      "--memory-child",
      peerName,
      String(heads),
      String(L),
      String(causal),
    ],
    { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 20 },
  );
  if (result.status !== 0) {
    return { error: (result.stderr || "").trim().split("\n").slice(-3).join(" ") };
  }
  const line = result.stdout.trim().split("\n").pop();
  return JSON.parse(line);
}

/**
 * Times each function at (8, 512, 512, 64) float32 with the TypeScript
 * kernels (DOTATTN_WASM=0) and the WebAssembly kernels, alternating, on 2
 * threads and on 1, and checks that both give the same bits.
 */
function compareKernels(pairs) {
  const problem = makeProblem(HEADS, 512);
  const { Q, K, V } = problem;
  const calls = {
    sdpa: (causal) =>
      dotattn.scaledDotProductAttention(Q, K, V, null, { isCausal: causal }).output.data,
    "memory-efficient": (causal) =>
      dotattn.memoryEfficientAttention(Q, K, V, null, { isCausal: causal }).data,
  };
  console.log(
    `\nWebAssembly against TypeScript kernels, heads ${HEADS}, L = S = 512, E = ${E}, float32, median of ${pairs} pairs:`,
  );
  const rows = [];
  for (const threads of ["2", "1"]) {
    for (const [name, call] of Object.entries(calls)) {
      for (const causal of [false, true]) {
        const run = (wasm) =>
          withEnv("DOTATTN_THREADS", threads, () =>
            withEnv("DOTATTN_WASM", wasm ? "1" : "0", () => call(causal)),
          );
        const identical = maxAbsDiff(run(true), run(false)) === 0;
        const typescript = [];
        const webassembly = [];
        for (let r = 0; r < pairs; r++) {
          let t0 = performance.now();
          run(false);
          typescript.push(performance.now() - t0);
          t0 = performance.now();
          run(true);
          webassembly.push(performance.now() - t0);
        }
        const row = {
          function: name,
          threads: Number(threads),
          causal,
          typescriptMs: Number(median(typescript).toFixed(2)),
          webassemblyMs: Number(median(webassembly).toFixed(2)),
          identical,
        };
        row.speedup = Number((row.typescriptMs / row.webassemblyMs).toFixed(2));
        rows.push(row);
        console.log(
          `  ${name.padEnd(17)} ${threads} thread(s) ${causal ? "causal " : "no mask"}  ` +
            `TypeScript ${row.typescriptMs.toFixed(1).padStart(6)} ms, WebAssembly ${row.webassemblyMs.toFixed(1).padStart(6)} ms, ` +
            `${row.speedup.toFixed(2)}x, ${identical ? "same bits" : "RESULTS DIFFER"}`,
        );
      }
    }
  }
  return { pairs, loadAverageAfter: os.loadavg().map((x) => Number(x.toFixed(2))), rows };
}

// ---------------------------------------------------------------- main

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === "--memory-child") {
    await memoryChild(argv[1], Number(argv[2]), Number(argv[3]), argv[4] === "true");
    return;
  }
  const quick = argv.includes("--quick");
  const jsonIndex = argv.indexOf("--json");
  const jsonPath = path.resolve(
    ROOT,
    jsonIndex >= 0
      ? argv[jsonIndex + 1]
      : quick
        ? "reports/bench-quick.json"
        : "docs/benchmarks.json",
  );
  const sizes = quick ? [128, 512] : [128, 512, 2048];
  const started = performance.now();

  const machine = {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
    dotattnWasmSimd: loadWasmKernels() !== null,
  };
  console.log(`dotattn benchmark: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);
  console.log(
    `load average at start: ${machine.loadAverageAtStart.join(", ")} (other processes share these cores)`,
  );

  await useBackend("wasm");
  await useBackend("cpu");
  const cases = [];

  for (const L of sizes) {
    for (const causal of [false, true]) {
      const problem = makeProblem(HEADS, L);
      const reference = PEERS["dotattn sdpa"].prepare(problem, causal)();
      const work = flops(HEADS, L, L, causal);
      // Slow peers get fewer repetitions at the largest size to keep the run short.
      let reps = 3;
      if (L <= 128) reps = quick ? 7 : 11;
      else if (L <= 512) reps = quick ? 3 : 5;
      const peerNames = Object.keys(PEERS);
      const runs = {};
      const times = {};
      const diffs = {};
      for (const name of peerNames) {
        runs[name] = PEERS[name].prepare(problem, causal);
        times[name] = [];
      }

      // Warm-up (also the correctness check), then repetitions in turns.
      for (const name of peerNames) {
        if (name.startsWith("tfjs")) await useBackend(name.split(" ")[1]);
        diffs[name] = maxAbsDiff(runs[name](), reference);
      }
      for (let r = 0; r < reps; r++) {
        for (const name of peerNames) {
          const slow = (name === "tfjs cpu" || name === "plain JS") && L >= 2048;
          if (slow && r >= 1) continue;
          if (name.startsWith("tfjs")) await useBackend(name.split(" ")[1]);
          const t0 = performance.now();
          runs[name]();
          times[name].push(performance.now() - t0);
        }
      }

      const results = {};
      for (const name of peerNames) {
        const ms = median(times[name]);
        results[name] = {
          medianMs: Number(ms.toFixed(2)),
          repetitions: times[name].length,
          gflops: Number((work / ms / 1e6).toFixed(2)),
          maxAbsDiffVsSdpa: diffs[name],
        };
      }
      const sdpaMs = results["dotattn sdpa"].medianMs;
      for (const name of peerNames) {
        results[name].timeRatioToSdpa = Number((results[name].medianMs / sdpaMs).toFixed(2));
      }
      cases.push({ heads: HEADS, L, S: L, E, Ev: E, dtype: "float32", causal, results });

      console.log(
        `\nheads ${HEADS}, L = S = ${L}, E = ${E}, float32, ${causal ? "causal" : "no mask"}`,
      );
      console.log(
        "  peer                        median ms   GFLOP/s   x sdpa time   max |diff| vs sdpa   reps",
      );
      for (const name of peerNames) {
        const r = results[name];
        console.log(
          `  ${name.padEnd(26)} ${r.medianMs.toFixed(1).padStart(10)} ${r.gflops.toFixed(2).padStart(9)} ` +
            `${r.timeRatioToSdpa.toFixed(2).padStart(13)} ${r.maxAbsDiffVsSdpa.toExponential(1).padStart(20)} ${String(r.repetitions).padStart(6)}`,
        );
      }
    }
  }
  disposeTf();

  const kernels = compareKernels(quick ? 5 : 9);

  // Peak memory of one call per peer, each in a fresh process.
  console.log(
    "\npeak extra memory of one call (MiB, resident set growth, fresh process per case):",
  );
  const memory = [];
  const memorySizes = quick ? [512] : [512, 2048];
  for (const L of memorySizes) {
    for (const name of Object.keys(PEERS)) {
      if ((name === "tfjs cpu" || name === "plain JS") && L >= 2048) continue;
      const m = measureMemory(name, HEADS, L, false);
      memory.push({ peer: name, heads: HEADS, L, S: L, causal: false, ...m });
      console.log(
        `  L = S = ${String(L).padEnd(5)} ${name.padEnd(26)} ${m.error ? `failed: ${m.error}` : m.peakExtraMiB.toFixed(1)}`,
      );
    }
  }

  // The long-sequence case: one head, L = S = 16384 (weights alone would be 1 GiB).
  const longL = quick ? 4096 : 16384;
  console.log(`\nmemoryEfficientAttention, 1 head, L = S = ${longL}, E = ${E}, float32, no mask:`);
  const longRun = spawnSync(
    process.execPath,
    ["--expose-gc", fileURLToPath(import.meta.url), "--long-child", String(longL)],
    { cwd: ROOT, encoding: "utf8" },
  );
  let long = null;
  if (longRun.status === 0) {
    long = JSON.parse(longRun.stdout.trim().split("\n").pop());
    console.log(
      `  ${long.ms.toFixed(0)} ms, ${long.gflops.toFixed(2)} GFLOP/s, peak extra memory ${long.peakExtraMiB.toFixed(1)} MiB ` +
        `(an L x S float32 weights buffer would be ${long.weightsMiB.toFixed(0)} MiB); ` +
        `a first small call that starts the worker threads grew the resident set by ${long.firstCallWithWorkerStartMiB.toFixed(1)} MiB`,
    );
  } else {
    console.log(`  failed: ${longRun.stderr}`);
  }

  machine.loadAverageAtEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
  console.log(`load average at end: ${machine.loadAverageAtEnd.join(", ")}`);
  const seconds = (performance.now() - started) / 1000;
  const report = {
    generatedBy: "scripts/bench.mjs" + (quick ? " --quick" : ""),
    date: new Date().toISOString(),
    machine,
    tfjs: { version: tf?.version_core ?? null, wasm: tfBackendReady.get("wasm") },
    heads: HEADS,
    E,
    cases,
    memory,
    long,
    kernels,
    seconds: Number(seconds.toFixed(1)),
  };
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  fs.writeFileSync(jsonPath, await formatJson(JSON.stringify(report, null, 2) + "\n", jsonPath));
  console.log(`\nwrote ${path.relative(ROOT, jsonPath)} in ${seconds.toFixed(0)} s`);
}

/** Formats JSON the way the repository's prettier check expects; plain JSON if prettier is missing. */
async function formatJson(text, file) {
  try {
    const prettier = await import("prettier");
    const options = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(text, { ...options, filepath: file });
  } catch {
    return text;
  }
}

/**
 * Child-process mode for the long case: times one memoryEfficientAttention
 * call and its memory. A small call first starts the worker threads, whose
 * one-time cost (a V8 isolate each) is reported apart from the call's.
 */
function longChild(L) {
  const small = makeProblem(1, 1024);
  fs.writeFileSync("/proc/self/clear_refs", "5");
  const beforeStart = statusMiB("VmRSS");
  dotattn.memoryEfficientAttention(small.Q, small.K, small.V);
  const workerStartMiB = statusMiB("VmHWM") - beforeStart;

  const problem = makeProblem(1, L);
  globalThis.gc?.();
  fs.writeFileSync("/proc/self/clear_refs", "5");
  const before = statusMiB("VmRSS");
  const t0 = performance.now();
  const out = dotattn.memoryEfficientAttention(problem.Q, problem.K, problem.V);
  const ms = performance.now() - t0;
  const peak = statusMiB("VmHWM");
  if (!out.data.every(Number.isFinite)) throw new Error("non-finite output");
  const result = {
    L,
    S: L,
    E,
    ms,
    gflops: flops(1, L, L, false) / ms / 1e6,
    peakExtraMiB: peak - before,
    firstCallWithWorkerStartMiB: workerStartMiB,
    weightsMiB: (L * L * 4) / 2 ** 20,
  };
  process.stdout.write(JSON.stringify(result) + "\n");
}

if (process.argv[2] === "--long-child") {
  longChild(Number(process.argv[3]));
} else {
  await main();
}
