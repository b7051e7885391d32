// Measures all-MiniLM-L6-v2 in TypeScript: the time to embed one 32-token
// sentence (float32 and float64), and the largest difference from the
// PyTorch parity fixtures per layer.
//
// Usage (after `npm run build`, with the weights package in .venv):
//   node scripts/bench-model.mjs [--repeats 20]
//
// Prints a Markdown report to stdout. Not a test: timings vary by machine.

import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { loadMiniLM } from "../dist/model/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const repeatsFlag = process.argv.indexOf("--repeats");
const repeats = repeatsFlag > 0 ? Number(process.argv[repeatsFlag + 1]) : 20;
if (!Number.isInteger(repeats) || repeats < 1) {
  console.error(
    `bench-model: --repeats is ${process.argv[repeatsFlag + 1]}; expected an integer >= 1`,
  );
  process.exit(2);
}

// 30 WordPiece tokens plus [CLS] and [SEP] = 32 (checked below).
const SENTENCE =
  "The quick brown fox jumps over the lazy dog while the sleepy cat watches from a sunny window on a warm afternoon in the little village by the sea.";

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function unpack(packed) {
  const bytes = Buffer.from(packed.base64, "base64");
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return {
    shape: packed.shape,
    data: packed.dtype === "f64" ? new Float64Array(copy) : new Float32Array(copy),
  };
}

function maxAbsDifference(actual, expected, offset) {
  let max = 0;
  for (let i = 0; i < actual.length; i++)
    max = Math.max(max, Math.abs(actual[i] - expected[offset + i]));
  return max;
}

const lines = [];
lines.push(
  `Machine: ${cpus()[0].model}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}`,
);
lines.push(`Command: node scripts/bench-model.mjs --repeats ${repeats}`);
lines.push("");
lines.push("| dtype | load (ms) | tokens | embed median (ms) | embed min (ms) |");
lines.push("| --- | --- | --- | --- | --- |");

const models = {};
for (const dtype of ["float32", "float64"]) {
  const start = performance.now();
  const minilm = loadMiniLM({ dtype });
  const load = performance.now() - start;
  models[dtype] = minilm;
  const tokens = minilm.tokenizer.encode(SENTENCE).ids.length;
  if (tokens !== 32) throw new Error(`bench-model: the sentence has ${tokens} tokens; expected 32`);
  for (let i = 0; i < 3; i++) minilm.embed(SENTENCE); // warm-up: JIT compilation
  const times = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    minilm.embed(SENTENCE);
    times.push(performance.now() - t);
  }
  lines.push(
    `| ${dtype} | ${load.toFixed(0)} | ${tokens} | ${median(times).toFixed(1)} | ${Math.min(...times).toFixed(1)} |`,
  );
}

// Parity: the padded batch of the fixtures, every layer, all rows (padding included).
lines.push("");
lines.push(
  "Max |TypeScript - PyTorch| over the padded batch (3 sentences, padding rows included):",
);
lines.push("");
lines.push(
  "| layer | hidden f64 vs torch f64 | attention f64 vs torch f64 | hidden f32 vs torch f32 (real rows) | hidden f32 vs torch f64 | hidden torch f32 vs torch f64 |",
);
lines.push("| --- | --- | --- | --- | --- | --- |");
const fixture64 = JSON.parse(
  readFileSync(join(root, "test/fixtures/model/minilm-float64.json"), "utf-8"),
);
const fixture32 = JSON.parse(
  readFileSync(join(root, "test/fixtures/model/minilm-float32.json"), "utf-8"),
);
const batch = fixture64.batch;
const run64 = models.float64.run(batch.texts, { outputHiddenStates: true, outputAttentions: true });
const run32 = models.float32.run(batch.texts, { outputHiddenStates: true, outputAttentions: true });
const h64 = unpack(batch.hiddenStates);
const a64 = unpack(batch.attentions);
const h32 = unpack(fixture32.batch.hiddenStates);
const [, N, L, D] = h64.shape;
const plane = N * L * D;
const attentionPlane = a64.shape.slice(1).reduce((a, b) => a * b, 1);
const fmt = (x) => (x === null ? "-" : x.toExponential(1));
for (let layer = 0; layer <= 6; layer++) {
  const hidden64 = maxAbsDifference(run64.hiddenStates[layer].data, h64.data, layer * plane);
  const attention64 =
    layer === 0
      ? null
      : maxAbsDifference(run64.attentions[layer - 1].data, a64.data, (layer - 1) * attentionPlane);
  let real32 = 0;
  let ours32 = 0;
  let torch32 = 0;
  const ours = run32.hiddenStates[layer].data;
  for (let i = 0; i < plane; i++) {
    const n = Math.floor(i / (L * D));
    const t = Math.floor(i / D) % L;
    const reference = h64.data[layer * plane + i];
    ours32 = Math.max(ours32, Math.abs(ours[i] - reference));
    torch32 = Math.max(torch32, Math.abs(h32.data[layer * plane + i] - reference));
    if (batch.attentionMask[n][t] === 1)
      real32 = Math.max(real32, Math.abs(ours[i] - h32.data[layer * plane + i]));
  }
  const label = layer === 0 ? "embeddings" : `layer ${layer - 1}`;
  lines.push(
    `| ${label} | ${fmt(hidden64)} | ${fmt(attention64)} | ${fmt(real32)} | ${fmt(ours32)} | ${fmt(torch32)} |`,
  );
}
console.log(lines.join("\n"));
