// Times attentionBackward at (batch, L, S, E) = (8, 512, 512, 64), Ev = 64,
// float32 and float64, without and with a causal mask: median of 5 calls
// after one warm-up call, with the load average before and after.
//
// Usage: npm run build && node scripts/bench-backward.mjs [--repeats N] [--dist DIR]
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const repeats = Number(option("--repeats", "5"));
const dist = resolve(option("--dist", "dist"));
const { attentionBackward, randn } = await import(pathToFileURL(resolve(dist, "index.js")).href);

const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const [B, L, S, E] = [8, 512, 512, 64];
const flops = (causal) => (causal ? 0.5 : 1) * 8 * B * L * S * E;

for (const dtype of ["float32", "float64"]) {
  const Q = randn([B, L, E], { seed: 1, dtype });
  const K = randn([B, S, E], { seed: 2, dtype });
  const V = randn([B, S, E], { seed: 3, dtype });
  const dO = randn([B, L, E], { seed: 4, dtype });
  for (const causal of [false, true]) {
    const before = loadavg();
    const run = () => attentionBackward(Q, K, V, dO, undefined, { isCausal: causal });
    run();
    const times = [];
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      run();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    const rate = flops(causal) / median / 1e6;
    console.log(
      `${dtype} ${causal ? "causal" : "none  "} median ${median.toFixed(1)} ms ` +
        `(min ${times[0].toFixed(1)}), ${rate.toFixed(2)} GFLOP/s, ` +
        `loadavg before ${before}, after ${loadavg()}`,
    );
  }
}
