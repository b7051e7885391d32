import { describe, expect, it } from "vitest";

import { validatePayload, type AttentionPayload } from "../../jupyter-extension/src/payload.js";
import {
  cellAt,
  chooseHead,
  columnOf,
  cssRgb,
  describeCell,
  formatWeight,
  gridLayout,
  highlightFor,
  isHighlighted,
  parseCssColor,
  rankWeights,
  relativeLuminance,
  textColorOn,
  toggleSelection,
  tokensShared,
  weightRgb,
  weightsOf,
  type ColorRamp,
} from "../../jupyter-extension/src/viewModel.js";

const light: ColorRamp = { low: { r: 255, g: 255, b: 255 }, high: { r: 25, g: 118, b: 210 } };
const dark: ColorRamp = { low: { r: 17, g: 17, b: 17 }, high: { r: 25, g: 118, b: 210 } };

/** 2 layers: layer 0 has 2 heads of [3, 3], layer 1 has 1 head. */
function payload(): AttentionPayload {
  return validatePayload({
    version: 1,
    queryTokens: ["a", "b", "a"],
    keyTokens: ["a", "b", "a"],
    layers: [
      {
        heads: [
          {
            weights: [
              [1, 0, 0],
              [0.5, 0.5, 0],
              [0.2, 0.3, 0.5],
            ],
          },
          {
            weights: [
              [0, 0, 1],
              [0, 1, 0],
              [1, 0, 0],
            ],
          },
        ],
      },
      {
        heads: [
          {
            weights: [
              [0.1, 0.2, 0.7],
              [0.3, 0.3, 0.4],
              [0.6, 0.2, 0.2],
            ],
          },
        ],
      },
    ],
  });
}

describe("parseCssColor", () => {
  it("reads computed rgb and rgba colours", () => {
    expect(parseCssColor("rgb(25, 118, 210)")).toEqual({ r: 25, g: 118, b: 210 });
    expect(parseCssColor("rgba(1, 2, 3, 0.5)")).toEqual({ r: 1, g: 2, b: 3 });
    expect(parseCssColor(" rgb(1 2 3) ")).toEqual({ r: 1, g: 2, b: 3 });
  });

  it("reads hex colours", () => {
    expect(parseCssColor("#1976d2")).toEqual({ r: 25, g: 118, b: 210 });
    expect(parseCssColor("#FFF")).toEqual({ r: 255, g: 255, b: 255 });
  });

  it("returns null for other text", () => {
    expect(parseCssColor("")).toBeNull();
    expect(parseCssColor("var(--jp-brand-color1)")).toBeNull();
    expect(parseCssColor("#12345")).toBeNull();
  });
});

describe("weightRgb", () => {
  it("maps 0 and 1 to the ends of the ramp", () => {
    expect(weightRgb(0, light)).toEqual(light.low);
    expect(weightRgb(1, light)).toEqual(light.high);
    expect(weightRgb(0, dark)).toEqual(dark.low);
    expect(weightRgb(1, dark)).toEqual(dark.high);
  });

  it("blends linearly in between", () => {
    expect(weightRgb(0.5, light)).toEqual({ r: 140, g: 187, b: 233 });
    expect(weightRgb(0.25, dark)).toEqual({ r: 19, g: 42, b: 65 });
  });

  it("clamps weights outside [0, 1]", () => {
    expect(weightRgb(-0.5, light)).toEqual(light.low);
    expect(weightRgb(1.5, light)).toEqual(light.high);
  });

  it("grows monotonically towards the high colour", () => {
    const blues = [0, 0.1, 0.3, 0.6, 0.9, 1].map((w) => weightRgb(w, light).r);
    for (let i = 1; i < blues.length; i++) {
      expect(blues[i], `red channel at step ${i}`).toBeLessThanOrEqual(blues[i - 1]);
    }
  });

  it("formats as css rgb()", () => {
    expect(cssRgb(weightRgb(1, light))).toBe("rgb(25, 118, 210)");
  });
});

describe("textColorOn", () => {
  it("picks the more readable of black and white", () => {
    expect(textColorOn({ r: 255, g: 255, b: 255 })).toBe("#000000");
    expect(textColorOn({ r: 17, g: 17, b: 17 })).toBe("#ffffff");
    expect(textColorOn({ r: 25, g: 118, b: 210 })).toBe("#ffffff");
  });

  it("uses the WCAG luminance", () => {
    expect(relativeLuminance({ r: 0, g: 0, b: 0 })).toBe(0);
    expect(relativeLuminance({ r: 255, g: 255, b: 255 })).toBeCloseTo(1, 12);
  });
});

describe("gridLayout", () => {
  it("uses large cells with values for short sequences", () => {
    expect(gridLayout(3, 5)).toEqual({ cellSize: 36, showLabels: true, showValues: true });
  });

  it("shrinks cells for long sequences", () => {
    expect(gridLayout(48, 20)).toEqual({ cellSize: 10, showLabels: true, showValues: false });
    expect(gridLayout(100, 100)).toEqual({ cellSize: 4, showLabels: false, showValues: false });
    expect(gridLayout(512, 512).cellSize).toBe(3);
  });

  it("handles empty sides", () => {
    expect(gridLayout(0, 0).cellSize).toBe(36);
  });
});

describe("cellAt", () => {
  it("maps points to cells", () => {
    expect(cellAt(0, 0, 10, 3, 4)).toEqual({ query: 0, key: 0 });
    expect(cellAt(39.9, 29.9, 10, 3, 4)).toEqual({ query: 2, key: 3 });
    expect(cellAt(15, 5, 10, 3, 4)).toEqual({ query: 0, key: 1 });
  });

  it("returns null outside the grid", () => {
    expect(cellAt(40, 5, 10, 3, 4)).toBeNull();
    expect(cellAt(5, 30, 10, 3, 4)).toBeNull();
    expect(cellAt(-1, 5, 10, 3, 4)).toBeNull();
    expect(cellAt(Number.NaN, 5, 10, 3, 4)).toBeNull();
  });
});

describe("highlightFor", () => {
  it("highlights row and column of a shared token", () => {
    expect(highlightFor({ kind: "query", index: 1 }, 3, 3, true)).toEqual({ row: 1, column: 1 });
    expect(highlightFor({ kind: "key", index: 2 }, 3, 3, true)).toEqual({ row: 2, column: 2 });
  });

  it("highlights one axis when tokens differ", () => {
    expect(highlightFor({ kind: "query", index: 1 }, 3, 4, false)).toEqual({
      row: 1,
      column: null,
    });
    expect(highlightFor({ kind: "key", index: 3 }, 3, 4, false)).toEqual({ row: null, column: 3 });
  });

  it("highlights a clicked cell's row and column", () => {
    expect(highlightFor({ kind: "cell", query: 2, key: 0 }, 3, 4, false)).toEqual({
      row: 2,
      column: 0,
    });
  });

  it("ignores indices outside the grid", () => {
    expect(highlightFor({ kind: "query", index: 3 }, 3, 5, true)).toEqual({ row: null, column: 3 });
    expect(highlightFor({ kind: "cell", query: -1, key: 9 }, 3, 4, false)).toEqual({
      row: null,
      column: null,
    });
    expect(highlightFor(null, 3, 3, true)).toEqual({ row: null, column: null });
  });

  it("marks exactly the row and column cells", () => {
    const highlight = highlightFor({ kind: "query", index: 1 }, 3, 3, true);
    const marked: string[] = [];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        if (isHighlighted(highlight, { query: i, key: j })) {
          marked.push(`${i},${j}`);
        }
      }
    }
    expect(marked).toEqual(["0,1", "1,0", "1,1", "1,2", "2,1"]);
  });
});

describe("tokensShared", () => {
  it("compares token lists", () => {
    expect(tokensShared(["a", "b"], ["a", "b"])).toBe(true);
    expect(tokensShared(["a", "b"], ["a", "c"])).toBe(false);
    expect(tokensShared(["a"], ["a", "b"])).toBe(false);
    expect(tokensShared([], [])).toBe(true);
  });
});

describe("toggleSelection", () => {
  it("selects, switches and clears", () => {
    const query1 = { kind: "query", index: 1 } as const;
    expect(toggleSelection(null, query1)).toEqual(query1);
    expect(toggleSelection(query1, { kind: "query", index: 1 })).toBeNull();
    expect(toggleSelection(query1, { kind: "key", index: 1 })).toEqual({ kind: "key", index: 1 });
    const cell = { kind: "cell", query: 0, key: 2 } as const;
    expect(toggleSelection(cell, { kind: "cell", query: 0, key: 2 })).toBeNull();
    expect(toggleSelection(cell, query1)).toEqual(query1);
  });
});

describe("head switching", () => {
  it("changes the weights on display", () => {
    const p = payload();
    const head0 = chooseHead(p, { layer: 0, head: 0 }, {});
    const head1 = chooseHead(p, head0, { head: 1 });
    expect(head1).toEqual({ layer: 0, head: 1 });
    expect(weightsOf(p, head0)[2]).toEqual([0.2, 0.3, 0.5]);
    expect(weightsOf(p, head1)[2]).toEqual([1, 0, 0]);
    const cell = { query: 2, key: 0 };
    expect(describeCell(p, head0, cell)).toBe('query 2 "a" → key 0 "a": 0.2000');
    expect(describeCell(p, head1, cell)).toBe('query 2 "a" → key 0 "a": 1.0000');
  });

  it("keeps the head index across layers when it exists", () => {
    const p = payload();
    expect(chooseHead(p, { layer: 1, head: 0 }, { layer: 0 })).toEqual({ layer: 0, head: 0 });
    expect(chooseHead(p, { layer: 0, head: 1 }, { layer: 1 })).toEqual({ layer: 1, head: 0 });
  });

  it("clamps indices out of range", () => {
    const p = payload();
    expect(chooseHead(p, { layer: 0, head: 0 }, { layer: 7 })).toEqual({ layer: 1, head: 0 });
    expect(chooseHead(p, { layer: 0, head: 0 }, { head: 5 })).toEqual({ layer: 0, head: 1 });
    expect(chooseHead(p, { layer: 0, head: 1 }, { head: -2 })).toEqual({ layer: 0, head: 0 });
  });
});

describe("selection summary", () => {
  it("ranks a row largest first with ties by index", () => {
    expect(rankWeights([0.2, 0.5, 0.2, 0.1], 3)).toEqual([
      { index: 1, weight: 0.5 },
      { index: 0, weight: 0.2 },
      { index: 2, weight: 0.2 },
    ]);
    expect(rankWeights([0.3], 0)).toEqual([]);
  });

  it("reads a column", () => {
    const p = payload();
    expect(columnOf(weightsOf(p, { layer: 0, head: 0 }), 1)).toEqual([0, 0.5, 0.3]);
  });

  it("formats weights with 4 decimals", () => {
    expect(formatWeight(0.12345)).toBe("0.1235");
    expect(formatWeight(1)).toBe("1.0000");
  });

  it("quotes tokens in the hover text", () => {
    const p = validatePayload({
      version: 1,
      queryTokens: ['say "hi"'],
      keyTokens: ["<b>x</b>"],
      layers: [{ heads: [{ weights: [[0.25]] }] }],
    });
    expect(describeCell(p, { layer: 0, head: 0 }, { query: 0, key: 0 })).toBe(
      'query 0 "say \\"hi\\"" → key 0 "<b>x</b>": 0.2500',
    );
  });
});
