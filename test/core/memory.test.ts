// memoryEfficientAttention needs O(L + S) extra memory, never L x S.
//
// Measured as the peak growth of this process's resident set during one call.
// Writing "5" to /proc/self/clear_refs resets the peak (VmHWM) to the current
// resident set (Linux 4.0+). VmHWM after the call minus VmRSS before it is
// then the most extra memory the call touched, typed arrays included. A control
// call that does allocate L x S weights shows that the measurement sees such
// a buffer. No timing is asserted.

import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { memoryEfficientAttention, randn, scaledDotProductAttention } from "../../src/index.js";

const MiB = 2 ** 20;
const canMeasure = fs.existsSync("/proc/self/clear_refs") && fs.existsSync("/proc/self/status");

function statusBytes(field: string): number {
  const text = fs.readFileSync("/proc/self/status", "utf8");
  const match = text.match(new RegExp(`${field}:\\s+(\\d+) kB`));
  if (!match) throw new Error(`/proc/self/status has no ${field} line`);
  return Number(match[1]) * 1024;
}

/** Runs `fn` once and returns the peak growth of the resident set during it, in bytes. */
function peakExtraBytes(fn: () => unknown): number {
  fs.writeFileSync("/proc/self/clear_refs", "5");
  const before = statusBytes("VmRSS");
  fn();
  return statusBytes("VmHWM") - before;
}

describe.runIf(canMeasure)("memory of one attention call", () => {
  // One head, L = S = 8192, float32: L x S weights would take 256 MiB.
  // E = Ev = 8 keeps the call near a second; memory does not depend on E.
  const L = 8192;
  const Q = randn([1, L, 8], { seed: 1, dtype: "float32" });
  const K = randn([1, L, 8], { seed: 2, dtype: "float32" });
  const V = randn([1, L, 8], { seed: 3, dtype: "float32" });

  it("memoryEfficientAttention stays under 32 MiB at L = S = 8192", () => {
    let finite = false;
    const extra = peakExtraBytes(() => {
      const output = memoryEfficientAttention(Q, K, V);
      finite = output.data.every(Number.isFinite);
    });
    expect(finite).toBe(true);
    expect(extra / MiB, `peak extra memory ${(extra / MiB).toFixed(1)} MiB`).toBeLessThan(32);
  });

  it("the measurement sees an L x S buffer", () => {
    // The same rows as two heads of L = S = 4096: scaledDotProductAttention
    // stores 2 x 4096 x 4096 float32 weights, 128 MiB.
    const shape = [2, L / 2, 8];
    const extra = peakExtraBytes(() => {
      scaledDotProductAttention(Q.reshape(shape), K.reshape(shape), V.reshape(shape));
    });
    expect(extra / MiB, `peak extra memory ${(extra / MiB).toFixed(1)} MiB`).toBeGreaterThan(120);
  });
});
