// The worker-thread path of the kernels gives the same bits as the
// single-threaded path. Workers load compiled JavaScript (worker.js), which
// the TypeScript source under vitest is not, so this test compiles src/ into
// a temporary folder and runs the comparison there in child processes: one
// with DOTATTN_THREADS=2 and one with DOTATTN_THREADS=1.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

// Each case is above the size below which calls stay on one thread.
const CHILD_SCRIPT = `
import fs from "node:fs";
const m = await import(process.argv[2]);
const cases = [
  { shape: [4, 300, 300, 64, 64], dtype: "float32", options: {} },
  { shape: [4, 300, 300, 64, 64], dtype: "float32", options: { isCausal: true } },
  { shape: [1, 1030, 1030, 16, 8], dtype: "float64", options: { isCausal: true, alignment: "lower-right" } },
  { shape: [2, 201, 700, 64, 64], dtype: "float64", options: { window: [37, 5], softcap: 3 } },
  { shape: [2, 201, 700, 64, 64], dtype: "float32", options: {}, masked: true },
];
const chunks = [];
for (const c of cases) {
  const [B, L, S, E, Ev] = c.shape;
  const Q = m.randn([B, L, E], { seed: 1, dtype: c.dtype });
  const K = m.randn([B, S, E], { seed: 2, dtype: c.dtype });
  const V = m.randn([B, S, Ev], { seed: 3, dtype: c.dtype });
  let mask = null;
  const options = { ...c.options };
  if (c.masked) {
    const u = m.randn([L, S], { seed: 4 }).data;
    mask = m.tensor(Float64Array.from(u, (x) => (x > -0.5 ? 1 : 0)), { shape: [L, S] });
    options.bias = m.randn([L, S], { seed: 5, dtype: c.dtype });
  }
  const exact = m.scaledDotProductAttention(Q, K, V, mask, options);
  chunks.push(exact.output.data, exact.weights.data);
  chunks.push(m.memoryEfficientAttention(Q, K, V, mask, options).data);
}
fs.writeFileSync(process.argv[3], Buffer.concat(chunks.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength))));
process.stdout.write(JSON.stringify({ threads: fs.readdirSync("/proc/self/task").length }));
`;

describe("worker-thread kernels", () => {
  let dir = "";

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dotattn-parallel-"));
    const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
    spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", dir], {
      cwd: ROOT,
      encoding: "utf8",
    });
    // tsc emits even when an unrelated file has a type error; what matters
    // is that the module and its worker exist.
    fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }');
    fs.writeFileSync(path.join(dir, "child.mjs"), CHILD_SCRIPT);
  }, 120_000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function runChild(threads: number): { bytes: Buffer; threads: number } {
    const out = path.join(dir, `out-${threads}.bin`);
    const result = spawnSync(
      process.execPath,
      [path.join(dir, "child.mjs"), path.join(dir, "index.js"), out],
      { encoding: "utf8", env: { ...process.env, DOTATTN_THREADS: String(threads) } },
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    return { bytes: fs.readFileSync(out), threads: JSON.parse(result.stdout).threads };
  }

  it("matches the single-threaded path bit for bit", () => {
    expect(fs.existsSync(path.join(dir, "attention", "worker.js"))).toBe(true);
    const single = runChild(1);
    const parallel = runChild(2);
    // The parallel child started a worker thread.
    expect(parallel.threads).toBeGreaterThan(single.threads);
    expect(parallel.bytes.length).toBe(single.bytes.length);
    expect(parallel.bytes.equals(single.bytes)).toBe(true);
  }, 120_000);
});
