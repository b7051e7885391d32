"""Measure this machine's native float32 matmul and attention rate with PyTorch.

A one-off reference for docs/benchmarks.md, not part of CI: it needs the
separate torch environment (scripts/setup-torch.sh).

    .venv-torch/bin/python scripts/torch_matmul_rate.py [--json docs/benchmarks-torch.json]

For the sizes of `npm run bench` (8 heads, L = S in 128, 512, 2048, E = 64)
it times the two products of attention, Q K^T (8, L, 64) x (8, 64, S) and
weights V (8, L, S) x (8, S, 64), and torch's scaled_dot_product_attention,
with all threads and with one thread. Times are medians of repetitions
after a warm-up.
"""

import argparse
import json
import platform
import statistics
import time

import torch
import torch.nn.functional as F

HEADS = 8
E = 64


def median_ms(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(threads, sizes):
    torch.set_num_threads(threads)
    rows = []
    for L in sizes:
        g = torch.Generator().manual_seed(0)
        q = torch.randn(HEADS, L, E, generator=g)
        k = torch.randn(HEADS, L, E, generator=g)
        v = torch.randn(HEADS, L, E, generator=g)
        w = torch.softmax(q @ k.transpose(-1, -2) / E**0.5, dim=-1)
        reps = 20 if L <= 512 else 5
        product_flops = 2 * HEADS * L * L * E
        qk = median_ms(lambda: torch.bmm(q, k.transpose(-1, -2)), reps)
        wv = median_ms(lambda: torch.bmm(w, v), reps)
        for causal in (False, True):
            sdpa = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal), reps)
            rows.append(
                {
                    "threads": threads,
                    "L": L,
                    "S": L,
                    "causal": causal,
                    "qkMs": round(qk, 3),
                    "qkGflops": round(product_flops / qk / 1e6, 2),
                    "weightsVMs": round(wv, 3),
                    "weightsVGflops": round(product_flops / wv / 1e6, 2),
                    "sdpaMs": round(sdpa, 3),
                }
            )
            print(
                f"threads {threads}  L = S = {L:5d}  causal {causal!s:5}  "
                f"Q K^T {qk:8.2f} ms ({product_flops / qk / 1e6:6.1f} GFLOP/s)  "
                f"W V {wv:8.2f} ms ({product_flops / wv / 1e6:6.1f} GFLOP/s)  "
                f"torch sdpa {sdpa:8.2f} ms"
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args()
    sizes = [128, 512, 2048]
    rows = measure(torch.get_num_threads(), sizes) + measure(1, sizes)
    report = {
        "generatedBy": "scripts/torch_matmul_rate.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "rows": rows,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
