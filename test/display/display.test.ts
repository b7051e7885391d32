// Unit tests of the display helpers in plain Node: escaping, MIME bundle
// structure, payload validity, plotly.js inlined once per session, checks.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it, vi } from "vitest";

import { randn, scaledDotProductAttention } from "../../src/index.js";
import {
  ATTENTION_MIME_TYPE,
  PLOTLY_MIME_TYPE,
  PLOTLY_SCRIPT_ATTRIBUTE,
  attentionHeatmapBundle,
  checkAtLeast,
  checkAtMost,
  checkBetween,
  checkClose,
  checkTrue,
  displayBundle,
  escapeHtml,
  escapePlotlyText,
  fitPowerLaw,
  isPlotlyInlined,
  jsonForScript,
  lineChartBundle,
  matrixHeatmapBundle,
  maxAbsDifference,
  resetPlotlyInlining,
  showAttention,
  validateAttentionPayload,
  type AttentionPayload,
  type PlotlyFigure,
} from "../../src/display/index.js";

const HOSTILE = "<img src=x onerror=alert(1)>";
const SCRIPT_CLOSE = "</script><script>window.__dotattnInjected = 1</script>";
const require = createRequire(import.meta.url);
const plotlyVersion = (
  JSON.parse(readFileSync(require.resolve("plotly.js-dist-min/package.json"), "utf8")) as {
    version: string;
  }
).version;

function countOccurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

/** Returns the HTML outside <script> elements, where markup would be live. */
function htmlOutsideScripts(html: string): string {
  return html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, "");
}

const weights2x2 = [
  [1, 0],
  [0.25, 0.75],
];

describe("escaping", () => {
  it("escapeHtml escapes markup characters", () => {
    expect(escapeHtml(HOSTILE)).toBe("&lt;img src=x onerror=alert(1)&gt;");
    expect(escapeHtml(`a & "b" 'c'`)).toBe("a &amp; &quot;b&quot; &#39;c&#39;");
  });

  it("escapePlotlyText escapes what plotly parses", () => {
    expect(escapePlotlyText("<b>x</b> & y")).toBe("&lt;b&gt;x&lt;/b&gt; &amp; y");
  });

  it("jsonForScript cannot close a script element", () => {
    const json = jsonForScript({ token: SCRIPT_CLOSE, separator: "\u2028" });
    expect(json).not.toContain("<");
    expect(json).not.toContain(">");
    expect(json).not.toContain("\u2028");
    expect(JSON.parse(json)).toEqual({ token: SCRIPT_CLOSE, separator: "\u2028" });
  });
});

describe("attentionHeatmapBundle", () => {
  it("holds the four MIME types", () => {
    const bundle = attentionHeatmapBundle(weights2x2, { queryTokens: ["a", "b"] });
    expect(Object.keys(bundle).sort()).toEqual(
      [ATTENTION_MIME_TYPE, PLOTLY_MIME_TYPE, "text/html", "text/plain"].sort(),
    );
    expect(bundle["text/plain"]).toContain("L = 2 queries x S = 2 keys");
  });

  it("emits a payload that validates", () => {
    const { weights } = scaledDotProductAttention(
      randn([3, 4, 8], { seed: 1 }),
      randn([3, 5, 8], { seed: 2 }),
      randn([3, 5, 2], { seed: 3 }),
    );
    const bundle = attentionHeatmapBundle(weights, {
      queryTokens: ["q0", "q1", "q2", "q3"],
      keyTokens: ["k0", "k1", "k2", "k3", "k4"],
      title: "three heads",
    });
    const payload = bundle[ATTENTION_MIME_TYPE] as AttentionPayload;
    expect(() => validateAttentionPayload(payload)).not.toThrow();
    expect(payload.version).toBe(1);
    expect(payload.layers).toHaveLength(1);
    expect(payload.layers[0].heads.map((h) => h.label)).toEqual(["head 0", "head 1", "head 2"]);
    expect(payload.layers[0].heads[2].weights).toEqual((weights.toArray() as number[][][])[2]);
    expect(payload.keyTokens).toHaveLength(5);
    expect(payload.title).toBe("three heads");
  });

  it("keeps raw tokens in the payload", () => {
    const bundle = attentionHeatmapBundle(weights2x2, { queryTokens: [HOSTILE, "b"] });
    expect((bundle[ATTENTION_MIME_TYPE] as AttentionPayload).queryTokens[0]).toBe(HOSTILE);
  });

  it("lays out 4-d input as layers by heads", () => {
    const stack = [
      [weights2x2, weights2x2, weights2x2],
      [weights2x2, weights2x2, weights2x2],
    ];
    const bundle = attentionHeatmapBundle(stack);
    const figure = bundle[PLOTLY_MIME_TYPE] as PlotlyFigure;
    expect(figure.data).toHaveLength(6);
    expect((bundle[ATTENTION_MIME_TYPE] as AttentionPayload).layers).toHaveLength(2);
    expect(figure.layout.xaxis6).toBeDefined();
  });

  it("puts queries on the vertical axis", () => {
    const bundle = attentionHeatmapBundle([[1, 0, 0]], {
      queryTokens: ["q"],
      keyTokens: ["x", "y", "z"],
    });
    const trace = (bundle[PLOTLY_MIME_TYPE] as PlotlyFigure).data[0];
    expect(trace.y).toEqual(["0: q"]);
    expect(trace.x).toEqual(["0: x", "1: y", "2: z"]);
    expect(trace.z).toEqual([[1, 0, 0]]);
    expect((bundle[PLOTLY_MIME_TYPE] as PlotlyFigure).layout.yaxis).toMatchObject({
      autorange: "reversed",
    });
  });

  it("keeps duplicate tokens apart by position", () => {
    const bundle = attentionHeatmapBundle(weights2x2, { queryTokens: ["the", "the"] });
    expect((bundle[PLOTLY_MIME_TYPE] as PlotlyFigure).data[0].y).toEqual(["0: the", "1: the"]);
  });

  it("escapes a hostile token in every HTML and plotly string", () => {
    const bundle = attentionHeatmapBundle(weights2x2, {
      queryTokens: [HOSTILE, SCRIPT_CLOSE],
      title: HOSTILE,
      caption: HOSTILE,
      headLabels: [HOSTILE],
    });
    const html = bundle["text/html"] as string;
    expect(html).not.toContain("<img");
    expect(countOccurrences(html, "</script>")).toBe(2); // plotly.js and the drawing script
    expect(htmlOutsideScripts(html)).toContain("&lt;img src=x onerror=alert(1)&gt;");
    const figureJson = JSON.stringify(bundle[PLOTLY_MIME_TYPE]);
    expect(figureJson).not.toContain("<img");
    expect(figureJson).not.toContain("</script");
    expect(figureJson).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });

  it("inlines plotly.js only when asked", () => {
    const withPlotly = attentionHeatmapBundle(weights2x2)["text/html"] as string;
    const without = attentionHeatmapBundle(weights2x2, { includePlotlyJs: false })[
      "text/html"
    ] as string;
    expect(countOccurrences(withPlotly, `${PLOTLY_SCRIPT_ATTRIBUTE}="${plotlyVersion}"`)).toBe(1);
    expect(without).not.toContain(PLOTLY_SCRIPT_ATTRIBUTE);
    expect(without.length).toBeLessThan(10_000);
    expect(withPlotly).not.toMatch(/<script[^>]+src=/);
  });

  it("rejects weights outside [0, 1]", () => {
    expect(() => attentionHeatmapBundle([[1.5, 0]])).toThrow(RangeError);
    expect(() => attentionHeatmapBundle([[1.5, 0]])).toThrow(
      "attentionHeatmapBundle: weights[0][0] must be a finite number in [0, 1], got 1.5",
    );
    expect(() => attentionHeatmapBundle([[[0, NaN]]])).toThrow("weights[0][0][1]");
  });

  it("rejects a wrong number of tokens", () => {
    const call = () => attentionHeatmapBundle(weights2x2, { queryTokens: ["a"] });
    expect(call).toThrow(RangeError);
    expect(call).toThrow(
      "attentionHeatmapBundle: options.queryTokens must have 2 entries (one per query, L of weights shape [2, 2]), got 1",
    );
  });

  it("rejects a non-string token", () => {
    const call = () =>
      attentionHeatmapBundle(weights2x2, { queryTokens: ["a", 3 as unknown as string] });
    expect(call).toThrow(TypeError);
    expect(call).toThrow(
      "attentionHeatmapBundle: options.queryTokens[1] must be a string, got the number 3",
    );
  });

  it("rejects the wrong number of dims", () => {
    expect(() => attentionHeatmapBundle([1, 0] as unknown as number[][])).toThrow(RangeError);
    expect(() => attentionHeatmapBundle([1, 0] as unknown as number[][])).toThrow("got shape [2]");
  });

  it("rejects ragged nested arrays", () => {
    const call = () => attentionHeatmapBundle([[1, 0], [1]]);
    expect(call).toThrow(RangeError);
    expect(call).toThrow("attentionHeatmapBundle: weights[1]: expected 2 entries, got 1");
  });

  it("rejects a value that is not a matrix", () => {
    const call = () => attentionHeatmapBundle("weights" as unknown as number[][]);
    expect(call).toThrow(TypeError);
    expect(call).toThrow('got the string "weights"');
  });

  it("rejects more than 512 tokens", () => {
    const wide = [Array.from({ length: 513 }, () => 0)];
    const call = () => attentionHeatmapBundle(wide);
    expect(call).toThrow(RangeError);
    expect(call).toThrow("keyTokens: expected at most 512 tokens, got 513");
  });
});

describe("matrixHeatmapBundle", () => {
  it("draws -Infinity as a gap named on hover", () => {
    const bundle = matrixHeatmapBundle([[0.5, -Infinity]], { valueName: "score" });
    const trace = (bundle[PLOTLY_MIME_TYPE] as PlotlyFigure).data[0];
    expect(trace.z).toEqual([[0.5, null]]);
    expect(trace.text).toEqual([["0.5", "−∞"]]);
    expect(bundle[ATTENTION_MIME_TYPE]).toBeUndefined();
  });
});

describe("lineChartBundle", () => {
  it("builds log axes with the sweep's ticks", () => {
    const bundle = lineChartBundle([{ name: "t", x: [1, 2, 4], y: [1, 4, 16] }], {
      xLabel: "n",
      yLabel: "ms",
      logX: true,
      logY: true,
    });
    const layout = (bundle[PLOTLY_MIME_TYPE] as PlotlyFigure).layout;
    expect(layout.xaxis).toMatchObject({ type: "log", tickvals: [1, 2, 4] });
    expect(layout.yaxis).toMatchObject({ type: "log" });
    expect(bundle["text/plain"]).toContain("ms against n");
  });

  it("rejects non-positive values on a log axis", () => {
    const call = () =>
      lineChartBundle([{ name: "t", x: [0, 1], y: [1, 2] }], {
        xLabel: "n",
        yLabel: "ms",
        logX: true,
      });
    expect(call).toThrow(RangeError);
    expect(call).toThrow("lineChartBundle: series[0].x[0] must be > 0 on a log axis, got 0");
  });

  it("rejects series of unequal lengths", () => {
    const call = () =>
      lineChartBundle([{ name: "t", x: [1, 2], y: [1] }], { xLabel: "n", yLabel: "ms" });
    expect(call).toThrow(RangeError);
    expect(call).toThrow("series[0] must have as many x as y values, got 2 x and 1 y");
  });

  it("rejects a missing axis label", () => {
    const call = () => lineChartBundle([], { yLabel: "ms" } as never);
    expect(call).toThrow(TypeError);
    expect(call).toThrow("lineChartBundle: options.xLabel must be a string, got undefined");
  });
});

describe("validateAttentionPayload", () => {
  const valid = (): AttentionPayload => ({
    version: 1,
    queryTokens: ["a", "b"],
    keyTokens: ["c", "d", "e"],
    layers: [
      {
        label: "layer 0",
        heads: [
          {
            label: "head 0",
            weights: [
              [1, 0, 0],
              [0.5, 0.5, 0],
            ],
          },
        ],
      },
    ],
  });

  it("accepts a valid payload", () => {
    expect(() => validateAttentionPayload(valid())).not.toThrow();
  });

  it.each([
    [
      "version",
      (p: AttentionPayload): unknown => Object.assign(p, { version: 2 }),
      RangeError,
      "version: expected 1, got the number 2",
    ],
    [
      "short row",
      (p: AttentionPayload): unknown => p.layers[0].heads[0].weights[1].pop(),
      RangeError,
      "layers[0].heads[0].weights[1]: expected 3 numbers, got 2",
    ],
    [
      "missing row",
      (p: AttentionPayload): unknown => p.layers[0].heads[0].weights.pop(),
      RangeError,
      "layers[0].heads[0].weights: expected 2 rows",
    ],
    [
      "token type",
      (p: AttentionPayload): unknown => Object.assign(p.queryTokens, { 1: 7 }),
      TypeError,
      "queryTokens[1]: expected a string, got the number 7",
    ],
    [
      "no heads",
      (p: AttentionPayload): unknown => (p.layers[0].heads = []),
      RangeError,
      "layers[0].heads: expected at least one head, got 0",
    ],
    [
      "no layers",
      (p: AttentionPayload): unknown => (p.layers = []),
      RangeError,
      "layers: expected at least one layer, got 0",
    ],
    [
      "weight above 1",
      (p: AttentionPayload): unknown => (p.layers[0].heads[0].weights[0][2] = 1.01),
      RangeError,
      "layers[0].heads[0].weights[0][2]: expected a finite number in [0, 1], got 1.01",
    ],
    [
      "label type",
      (p: AttentionPayload): unknown => Object.assign(p.layers[0], { label: null }),
      TypeError,
      "layers[0].label: expected a string, got null",
    ],
  ] as const)("rejects %s", (_name, mutate, errorClass, message) => {
    const payload = valid();
    mutate(payload);
    expect(() => validateAttentionPayload(payload)).toThrow(errorClass);
    expect(() => validateAttentionPayload(payload)).toThrow(`validateAttentionPayload: ${message}`);
  });
});

describe("show functions outside tslab", () => {
  it("print the text summary and keep plotly for the kernel", () => {
    resetPlotlyInlining();
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      showAttention(weights2x2, { title: "plain node" });
      expect(log).toHaveBeenCalledTimes(1);
      expect(String(log.mock.calls[0][0])).toContain('Attention weights "plain node"');
    } finally {
      log.mockRestore();
    }
    // Nothing reached a notebook, so the next figure in a kernel still carries plotly.js.
    expect(isPlotlyInlined()).toBe(false);
  });

  it("displayBundle rejects a bundle without text/plain", () => {
    expect(() => displayBundle({ "text/html": "<b>x</b>" })).toThrow(TypeError);
    expect(() => displayBundle({ "text/html": "<b>x</b>" })).toThrow(
      'displayBundle: bundle must be an object with a "text/plain" string',
    );
  });
});

describe("show functions inside tslab", () => {
  it("inline plotly.js into the first figure only", async () => {
    // A kernel-like module registered under tslab's path, as the kernel's own copy would be.
    const written: Record<string, unknown>[] = [];
    const fakePath = "/virtual/node_modules/tslab/dist/jupyter.js";
    const cache = require.cache as Record<string, unknown>;
    cache[fakePath] = {
      id: fakePath,
      filename: fakePath,
      loaded: true,
      exports: {
        lastWriteDisplayData: (content: { data: Record<string, unknown> }) =>
          written.push(content.data),
      },
    };
    try {
      resetPlotlyInlining();
      showAttention(weights2x2);
      showAttention(weights2x2);
      const { showLineChart } = await import("../../src/display/index.js");
      showLineChart([{ name: "a", x: [1, 2], y: [1, 2] }], { xLabel: "x", yLabel: "y" });
    } finally {
      delete cache[fakePath];
      resetPlotlyInlining();
    }
    expect(written).toHaveLength(3);
    const marker = `${PLOTLY_SCRIPT_ATTRIBUTE}="${plotlyVersion}"`;
    expect(written.map((data) => countOccurrences(data["text/html"] as string, marker))).toEqual([
      1, 0, 0,
    ]);
    expect(written[0][ATTENTION_MIME_TYPE]).toBeDefined();
  });
});

describe("checks", () => {
  it("print PASS lines and throw on failure", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      checkAtMost("small", 1, 2);
      checkAtLeast("large", 3, 2);
      checkBetween("inside", 0.5, 0, 1);
      checkTrue("true", true, "observed");
      checkClose("close", [1, 2], [1, 2 + 1e-13], 1e-12);
      expect(log.mock.calls.map((c) => String(c[0]).slice(0, 4))).toEqual([
        "PASS",
        "PASS",
        "PASS",
        "PASS",
        "PASS",
      ]);
      expect(String(log.mock.calls[0][0])).toBe("PASS  small: value = 1, bound <= 2");
    } finally {
      log.mockRestore();
    }
    expect(() => checkAtMost("too big", 3, 2)).toThrow(
      "check failed: too big: value = 3, bound <= 2",
    );
    expect(() => checkAtLeast("nan", NaN, 0)).toThrow("check failed: nan");
    expect(() => checkTrue("false", false, "saw x")).toThrow("check failed: false: saw x");
    expect(() => checkClose("far", [1], [2], 0.5)).toThrow("max |actual - expected| = 1");
  });

  it("treat NaN as a failure in maxAbsDifference", () => {
    expect(maxAbsDifference([NaN], [NaN])).toBe(Infinity);
    expect(maxAbsDifference([Infinity], [Infinity])).toBe(0);
    expect(maxAbsDifference([Infinity], [-Infinity])).toBe(Infinity);
    expect(() => maxAbsDifference([[1, 2]], [1, 2])).toThrow("got [1, 2] and [2]");
  });

  it("reject bad arguments", () => {
    expect(() => checkAtMost("" as string, 1, 2)).toThrow(TypeError);
    expect(() => checkBetween("x", 1, 2, 0)).toThrow(
      "checkBetween: low must be <= high, got low = 2 and high = 0",
    );
    expect(() => checkClose("x", [1], [1], -1)).toThrow(RangeError);
  });

  it("fitPowerLaw recovers an exponent", () => {
    const fit = fitPowerLaw([1, 2, 4, 8], [3, 12, 48, 192]);
    expect(fit.slope).toBeCloseTo(2, 12);
    expect(fit.coefficient).toBeCloseTo(3, 12);
    expect(fit.rSquared).toBeCloseTo(1, 12);
    expect(() => fitPowerLaw([1, 2], [1, 0])).toThrow(
      "fitPowerLaw: y[1] must be a finite number > 0, got 0",
    );
    expect(() => fitPowerLaw([2, 2], [1, 3])).toThrow(RangeError);
  });
});

describe("log axis ticks", () => {
  it("label every tick of a log y axis with its full value", () => {
    const bundle = lineChartBundle([{ name: "time", x: [128, 256, 512], y: [13.5, 61, 240] }], {
      xLabel: "n",
      yLabel: "ms",
      logX: true,
      logY: true,
    });
    const figure = bundle[PLOTLY_MIME_TYPE] as {
      layout: { xaxis: Record<string, unknown>; yaxis: Record<string, unknown> };
    };
    expect(figure.layout.xaxis.tickvals).toEqual([128, 256, 512]);
    expect(figure.layout.yaxis.tickvals).toEqual([10, 20, 50, 100, 200]);
    expect(figure.layout.yaxis.ticktext).toEqual(["10", "20", "50", "100", "200"]);
  });
});
