// Builds the MIME bundles of heatmaps and sweep plots and shows them in the
// notebook, inlining plotly.js once per kernel session.

import { ATTENTION_MIME_TYPE, validateAttentionPayload, type AttentionPayload } from "./payload.js";
import {
  heatmapFigure,
  lineFigure,
  tokenAxisLabel,
  type HeatmapKind,
  type LineSeries,
  type PlotlyFigure,
} from "./figures.js";
import { figureHtml } from "./html.js";
import {
  describeValue,
  formatShape,
  indexSuffix,
  inputRank,
  toLayerStack,
  type MatrixInput,
} from "./matrix.js";
import { displayBundle, type MimeBundle } from "./tslab.js";

/** MIME type of plotly figures (rendered by plotly's JupyterLab extension). */
export const PLOTLY_MIME_TYPE = "application/vnd.plotly.v1+json";

/** Labels and text of a heatmap. */
export interface HeatmapOptions {
  /** Query tokens, length L (rows, vertical axis). Positions are shown without them. */
  queryTokens?: readonly string[];
  /** Key tokens, length S (columns, horizontal axis). Defaults to `queryTokens` when S == L. */
  keyTokens?: readonly string[];
  /** One label per head; `head 0`, `head 1`, ... unless given. */
  headLabels?: readonly string[];
  /** One label per layer; `layer 0`, `layer 1`, ... unless given. */
  layerLabels?: readonly string[];
  title?: string;
  /** Text under the figure: what the colour means and which cell produced it. */
  caption?: string;
  /** Name of the value in hover text and on the colour bar. */
  valueName?: string;
}

/** Options of the bundle builders, which do not keep session state. */
export interface BundleOptions {
  /** Whether the `text/html` form carries plotly.js itself (default true: the HTML stands alone). */
  includePlotlyJs?: boolean;
}

/** Text and axes of a sweep plot. */
export interface LineChartOptions {
  title?: string;
  xLabel: string;
  yLabel: string;
  /** Logarithmic x axis. */
  logX?: boolean;
  /** Logarithmic y axis. */
  logY?: boolean;
  caption?: string;
  width?: number;
  height?: number;
}

const DEFAULT_ATTENTION_CAPTION =
  "Colour: attention weight that the query in the row gives the key in the column, from 0 (white) to 1 (dark blue). Hover over a cell for the tokens and the weight.";

function checkLabels(
  value: readonly string[] | undefined,
  expected: number,
  functionName: string,
  argumentName: string,
  meaning: string,
): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${functionName}: ${argumentName} must be an array of strings, got ${describeValue(value)}`,
    );
  }
  if (value.length !== expected) {
    throw new RangeError(
      `${functionName}: ${argumentName} must have ${expected} entries (${meaning}), got ${value.length}`,
    );
  }
  value.forEach((label, i) => {
    if (typeof label !== "string") {
      throw new TypeError(
        `${functionName}: ${argumentName}[${i}] must be a string, got ${describeValue(label)}`,
      );
    }
  });
}

function checkOptionalString(value: unknown, functionName: string, argumentName: string): void {
  if (value !== undefined && typeof value !== "string") {
    throw new TypeError(
      `${functionName}: ${argumentName} must be a string, got ${describeValue(value)}`,
    );
  }
}

interface PreparedHeatmap {
  stack: number[][][][];
  queryTokens: string[] | undefined;
  keyTokens: string[] | undefined;
  headLabels: string[];
  layerLabels: string[];
}

function prepareHeatmap(
  values: MatrixInput,
  options: HeatmapOptions,
  functionName: string,
  argumentName: string,
): PreparedHeatmap {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${functionName}: options must be an object, got ${describeValue(options)}`,
    );
  }
  const stack = toLayerStack(values, functionName, argumentName);
  const rank = inputRank(values);
  const layerCount = stack.length;
  const headCount = stack[0].length;
  const rows = stack[0][0].length;
  const columns = rows === 0 ? 0 : stack[0][0][0].length;
  const shape =
    rank === 2
      ? [rows, columns]
      : rank === 3
        ? [headCount, rows, columns]
        : [layerCount, headCount, rows, columns];
  // A tensor reports S even when L is 0, nested arrays cannot.
  const declaredColumns =
    "shape" in values && !Array.isArray(values) ? values.shape[values.shape.length - 1] : columns;
  const keyCount = rows === 0 ? declaredColumns : columns;
  checkLabels(
    options.queryTokens,
    rows,
    functionName,
    "options.queryTokens",
    `one per query, L of ${argumentName} shape ${formatShape(shape)}`,
  );
  const keyTokens =
    options.keyTokens ??
    (options.queryTokens && keyCount === rows ? options.queryTokens : undefined);
  checkLabels(
    options.keyTokens,
    keyCount,
    functionName,
    "options.keyTokens",
    `one per key, S of ${argumentName} shape ${formatShape(shape)}`,
  );
  checkLabels(
    options.headLabels,
    headCount,
    functionName,
    "options.headLabels",
    `one per head of ${argumentName} shape ${formatShape(shape)}`,
  );
  checkLabels(
    options.layerLabels,
    layerCount,
    functionName,
    "options.layerLabels",
    `one per layer of ${argumentName} shape ${formatShape(shape)}`,
  );
  checkOptionalString(options.title, functionName, "options.title");
  checkOptionalString(options.caption, functionName, "options.caption");
  checkOptionalString(options.valueName, functionName, "options.valueName");
  return {
    stack,
    queryTokens: options.queryTokens ? [...options.queryTokens] : undefined,
    keyTokens: keyTokens ? [...keyTokens] : undefined,
    headLabels: options.headLabels
      ? [...options.headLabels]
      : Array.from({ length: headCount }, (_, h) => `head ${h}`),
    layerLabels: options.layerLabels
      ? [...options.layerLabels]
      : Array.from({ length: layerCount }, (_, l) => `layer ${l}`),
  };
}

function gridFigure(
  prepared: PreparedHeatmap,
  options: HeatmapOptions,
  kind: HeatmapKind,
  valueName: string,
): PlotlyFigure {
  const rows = prepared.stack[0][0].length;
  const columns = rows === 0 ? (prepared.keyTokens?.length ?? 0) : prepared.stack[0][0][0].length;
  return heatmapFigure(
    prepared.stack,
    {
      queryLabels: Array.from({ length: rows }, (_, i) =>
        tokenAxisLabel(i, prepared.queryTokens?.[i]),
      ),
      keyLabels: Array.from({ length: columns }, (_, j) =>
        tokenAxisLabel(j, prepared.keyTokens?.[j]),
      ),
      headLabels: prepared.headLabels,
      layerLabels: prepared.layerLabels,
      title: options.title,
      colorbarTitle: valueName,
    },
    kind,
  );
}

function summary(kind: string, prepared: PreparedHeatmap, title: string | undefined): string {
  const layers = prepared.stack.length;
  const heads = prepared.stack[0].length;
  const rows = prepared.stack[0][0].length;
  const columns = rows === 0 ? (prepared.keyTokens?.length ?? 0) : prepared.stack[0][0][0].length;
  const named = title ? ` "${title}"` : "";
  return `${kind}${named}: ${layers} layer(s) x ${heads} head(s) of L = ${rows} queries x S = ${columns} keys (an interactive plotly heatmap; open the notebook in JupyterLab or the HTML report to see it)`;
}

/**
 * Builds the MIME bundle of an attention heatmap: a plotly figure, offline HTML,
 * the `application/vnd.dotattn.attention+json` payload and a text summary.
 *
 * `weights` is `(L, S)`, `(heads, L, S)` or `(layers, heads, L, S)`: a tensor or
 * nested arrays of finite numbers in [0, 1]. Heads are drawn side by side, layers
 * one under the other, queries on the vertical axis and keys on the horizontal one.
 *
 * @throws TypeError when `weights` is not a tensor or nested number arrays, or a label is not a string.
 * @throws RangeError when `weights` has fewer than 2 or more than 4 dims, no heads, an entry
 *   outside [0, 1] or non-finite, L or S above 512, or a label list of the wrong length.
 * @example
 * const bundle = attentionHeatmapBundle([[1, 0], [0.4, 0.6]], { queryTokens: ["a", "b"] });
 * Object.keys(bundle); // text/plain, text/html, application/vnd.plotly.v1+json, application/vnd.dotattn.attention+json
 */
export function attentionHeatmapBundle(
  weights: MatrixInput,
  options: HeatmapOptions & BundleOptions = {},
): MimeBundle {
  const prepared = prepareHeatmap(weights, options, "attentionHeatmapBundle", "weights");
  const rank = inputRank(weights);
  prepared.stack.forEach((layer, l) =>
    layer.forEach((matrix, h) =>
      matrix.forEach((row, i) =>
        row.forEach((value, j) => {
          if (!Number.isFinite(value) || value < 0 || value > 1) {
            throw new RangeError(
              `attentionHeatmapBundle: weights${indexSuffix(rank, l, h, i, j)} must be a finite number in [0, 1], got ${String(value)} (use matrixHeatmapBundle for scores)`,
            );
          }
        }),
      ),
    ),
  );
  const rows = prepared.stack[0][0].length;
  const columns = rows === 0 ? (prepared.keyTokens?.length ?? 0) : prepared.stack[0][0][0].length;
  const payload: AttentionPayload = {
    version: 1,
    queryTokens: prepared.queryTokens ?? Array.from({ length: rows }, (_, i) => String(i)),
    keyTokens: prepared.keyTokens ?? Array.from({ length: columns }, (_, j) => String(j)),
    layers: prepared.stack.map((layer, l) => ({
      label: prepared.layerLabels[l],
      heads: layer.map((matrix, h) => ({
        label: prepared.headLabels[h],
        weights: matrix.map((row) => [...row]),
      })),
    })),
  };
  if (options.title !== undefined) payload.title = options.title;
  const caption = options.caption ?? DEFAULT_ATTENTION_CAPTION;
  payload.caption = caption;
  try {
    validateAttentionPayload(payload);
  } catch (error) {
    // The only limits left to fail here are the payload's size limits.
    const message =
      error instanceof Error
        ? error.message.replace(/^validateAttentionPayload: /, "")
        : String(error);
    throw new RangeError(
      `attentionHeatmapBundle: weights do not fit the attention payload: ${message}`,
      { cause: error },
    );
  }
  const figure = gridFigure(prepared, options, "weights", options.valueName ?? "weight");
  return {
    "text/plain": summary("Attention weights", prepared, options.title),
    "text/html": figureHtml(figure, { caption, includePlotlyJs: options.includePlotlyJs ?? true }),
    [PLOTLY_MIME_TYPE]: figure,
    [ATTENTION_MIME_TYPE]: payload,
  };
}

/**
 * Builds the MIME bundle of a heatmap of any values (scores, masks, errors):
 * a plotly figure with a diverging colour scale centred on 0, offline HTML and
 * a text summary. Non-finite entries (a masked score is -Infinity) are drawn as
 * gaps and named on hover.
 *
 * @throws TypeError when `values` is not a tensor or nested number arrays, or a label is not a string.
 * @throws RangeError when `values` has fewer than 2 or more than 4 dims or a label list has the wrong length.
 * @example
 * const bundle = matrixHeatmapBundle([[0.5, -Infinity], [1.5, -0.2]], { valueName: "score" });
 */
export function matrixHeatmapBundle(
  values: MatrixInput,
  options: HeatmapOptions & BundleOptions = {},
): MimeBundle {
  const prepared = prepareHeatmap(values, options, "matrixHeatmapBundle", "values");
  const figure = gridFigure(prepared, options, "values", options.valueName ?? "value");
  const caption =
    options.caption ??
    "Colour: value in the row (query) and column (key), blue below 0 and red above; blank cells are -Infinity or NaN.";
  return {
    "text/plain": summary("Matrix", prepared, options.title),
    "text/html": figureHtml(figure, { caption, includePlotlyJs: options.includePlotlyJs ?? true }),
    [PLOTLY_MIME_TYPE]: figure,
  };
}

/**
 * Builds the MIME bundle of a line chart (plotly figure, offline HTML, text summary),
 * with log axes on request for power-law sweeps.
 *
 * @throws TypeError when `series` is not an array of series with a string name and number arrays.
 * @throws RangeError when a series' x and y lengths differ, or a log axis gets a value <= 0.
 * @example
 * const bundle = lineChartBundle([{ name: "time", x: [1, 2, 4], y: [1, 4, 16] }],
 *   { xLabel: "n", yLabel: "ms", logX: true, logY: true });
 */
export function lineChartBundle(
  series: readonly LineSeries[],
  options: LineChartOptions & BundleOptions,
): MimeBundle {
  if (!Array.isArray(series)) {
    throw new TypeError(
      `lineChartBundle: series must be an array of { name, x, y }, got ${describeValue(series)}`,
    );
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `lineChartBundle: options must be an object with xLabel and yLabel, got ${describeValue(options)}`,
    );
  }
  for (const key of ["xLabel", "yLabel"] as const) {
    if (typeof options[key] !== "string") {
      throw new TypeError(
        `lineChartBundle: options.${key} must be a string, got ${describeValue(options[key])}`,
      );
    }
  }
  checkOptionalString(options.title, "lineChartBundle", "options.title");
  checkOptionalString(options.caption, "lineChartBundle", "options.caption");
  series.forEach((line, s) => {
    if (typeof line !== "object" || line === null || typeof line.name !== "string") {
      throw new TypeError(
        `lineChartBundle: series[${s}] must be an object with a string name, got ${describeValue(line)}`,
      );
    }
    for (const axis of ["x", "y"] as const) {
      const values = line[axis];
      if (!Array.isArray(values) || values.some((v) => typeof v !== "number")) {
        throw new TypeError(
          `lineChartBundle: series[${s}].${axis} must be an array of numbers, got ${describeValue(values)}`,
        );
      }
      const logAxis = axis === "x" ? options.logX : options.logY;
      const bad = values.findIndex((v) => Number.isFinite(v) && v <= 0);
      if (logAxis && bad >= 0) {
        throw new RangeError(
          `lineChartBundle: series[${s}].${axis}[${bad}] must be > 0 on a log axis, got ${String(values[bad])}`,
        );
      }
    }
    if (line.x.length !== line.y.length) {
      throw new RangeError(
        `lineChartBundle: series[${s}] must have as many x as y values, got ${line.x.length} x and ${line.y.length} y`,
      );
    }
  });
  const figure = lineFigure([...series], {
    title: options.title,
    xLabel: options.xLabel,
    yLabel: options.yLabel,
    logX: options.logX ?? false,
    logY: options.logY ?? false,
    width: options.width,
    height: options.height,
  });
  const named = options.title ? ` "${options.title}"` : "";
  const text = [
    `Line chart${named}: ${options.yLabel} against ${options.xLabel}`,
    ...series.map((line) => `  ${line.name}: ${line.x.length} points`),
  ].join("\n");
  return {
    "text/plain": text,
    "text/html": figureHtml(figure, {
      caption: options.caption,
      includePlotlyJs: options.includePlotlyJs ?? true,
    }),
    [PLOTLY_MIME_TYPE]: figure,
  };
}

// plotly.js goes into the first figure that a tslab kernel displays; later
// figures in the same kernel session use that copy.
let plotlyInlined = false;

/**
 * Makes the next figure shown in this kernel session carry plotly.js again
 * (after clearing the output that carried it, for example).
 */
export function resetPlotlyInlining(): void {
  plotlyInlined = false;
}

/** Reports whether a figure shown in this kernel session already carried plotly.js. */
export function isPlotlyInlined(): boolean {
  return plotlyInlined;
}

// The show functions return nothing: tslab prints the value of a cell's last
// expression, which would dump the whole bundle (plotly.js included) as text.
function showFigure(build: (includePlotlyJs: boolean) => MimeBundle): void {
  const bundle = build(!plotlyInlined);
  if (displayBundle(bundle)) plotlyInlined = true;
}

/**
 * Shows an attention heatmap in the notebook (see `attentionHeatmapBundle`);
 * plotly.js is inlined into the first figure of the kernel session only.
 *
 * @throws TypeError or RangeError as `attentionHeatmapBundle` does.
 */
export function showAttention(weights: MatrixInput, options: HeatmapOptions = {}): void {
  showFigure((includePlotlyJs) => attentionHeatmapBundle(weights, { ...options, includePlotlyJs }));
}

/**
 * Shows a heatmap of any values in the notebook (see `matrixHeatmapBundle`).
 *
 * @throws TypeError or RangeError as `matrixHeatmapBundle` does.
 */
export function showMatrix(values: MatrixInput, options: HeatmapOptions = {}): void {
  showFigure((includePlotlyJs) => matrixHeatmapBundle(values, { ...options, includePlotlyJs }));
}

/**
 * Shows a line chart in the notebook (see `lineChartBundle`).
 *
 * @throws TypeError or RangeError as `lineChartBundle` does.
 */
export function showLineChart(series: readonly LineSeries[], options: LineChartOptions): void {
  showFigure((includePlotlyJs) => lineChartBundle(series, { ...options, includePlotlyJs }));
}
