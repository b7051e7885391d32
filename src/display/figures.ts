// plotly figure specs for attention heatmaps and sweep plots. Every user string
// (tokens, titles, labels) goes through escapePlotlyText, so plotly draws it as
// text and never as markup.

import { escapePlotlyText } from "./escape.js";

/** A plotly figure as plotly.js and the `application/vnd.plotly.v1+json` MIME type take it. */
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** Kind of heatmap: attention weights in [0, 1], or any values (scores, masks). */
export type HeatmapKind = "weights" | "values";

/** Labels of a heatmap grid of `layers` rows by `heads` columns of L x S panels. */
export interface HeatmapGridLabels {
  queryLabels: string[];
  keyLabels: string[];
  headLabels: string[];
  layerLabels: string[];
  title?: string;
  colorbarTitle: string;
}

const MAX_TICK_TOKEN_CHARS = 16;

// ColorBrewer "Blues", white at 0 to dark blue at 1. plotly's built-in "Blues"
// runs the other way (dark at 0), which reads backwards for weights.
const WEIGHT_COLORSCALE: [number, string][] = [
  "#f7fbff",
  "#deebf7",
  "#c6dbef",
  "#9ecae1",
  "#6baed6",
  "#4292c6",
  "#2171b5",
  "#08519c",
  "#08306b",
].map((colour, i, all) => [i / (all.length - 1), colour]);
const PLOT_CONFIG = { displaylogo: false, responsive: false };

/** Formats the axis label of a token: its position, then the token (shortened past 16 characters). */
export function tokenAxisLabel(position: number, token: string | undefined): string {
  if (token === undefined) return String(position);
  const shown =
    token.length > MAX_TICK_TOKEN_CHARS ? `${token.slice(0, MAX_TICK_TOKEN_CHARS - 1)}…` : token;
  return `${position}: ${shown}`;
}

/** Formats a value for hover text: 4 decimals for weights, 4 significant digits otherwise. */
export function formatHoverValue(value: number, kind: HeatmapKind): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+∞";
  if (value === -Infinity) return "−∞";
  if (kind === "weights") return value.toFixed(4);
  if (value !== 0 && (Math.abs(value) >= 1e5 || Math.abs(value) < 1e-3))
    return value.toExponential(3);
  return String(Number(value.toPrecision(4)));
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/**
 * Builds a plotly figure of `stack[layer][head]` heatmaps, laid out as one row per
 * layer and one column per head, with queries (rows) on the vertical axis from the
 * top and keys (columns) on the horizontal axis.
 *
 * Non-finite values (a masked score is -Infinity) are drawn as gaps and described
 * on hover. Weights use a fixed 0..1 colour range shared by all panels.
 */
export function heatmapFigure(
  stack: number[][][][],
  labels: HeatmapGridLabels,
  kind: HeatmapKind,
): PlotlyFigure {
  const layerCount = stack.length;
  const headCount = stack[0].length;
  const rowCount = labels.queryLabels.length;
  const columnCount = labels.keyLabels.length;
  const yCategories = labels.queryLabels.map(escapePlotlyText);
  const xCategories = labels.keyLabels.map(escapePlotlyText);

  const showTicks = Math.max(rowCount, columnCount) <= 64;
  const cell = showTicks ? 26 : 4;
  // Many heads side by side share about 900 px, down to 120 px per panel.
  const widthShare = Math.max(120, Math.floor((900 - (headCount - 1) * 24) / headCount));
  const panelWidth = clamp(
    columnCount * cell,
    Math.min(180, widthShare),
    Math.min(460, widthShare),
  );
  const panelHeight = clamp(rowCount * cell, 180, 460);
  const longestLabel = Math.max(
    1,
    ...labels.queryLabels.map((l) => l.length),
    ...labels.keyLabels.map((l) => l.length),
  );
  const tickSpace = showTicks ? Math.min(160, 7 * longestLabel) : 30;
  const gapX = 24;
  const gapY = 60;
  const margin = {
    l: tickSpace + 60,
    r: 110,
    t: labels.title ? 80 : 50,
    b: Math.round(tickSpace * 0.87) + 50,
  };
  const plotWidth = headCount * panelWidth + (headCount - 1) * gapX;
  const plotHeight = layerCount * panelHeight + (layerCount - 1) * gapY;

  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    width: plotWidth + margin.l + margin.r,
    height: plotHeight + margin.t + margin.b,
    margin,
    hoverlabel: { align: "left" },
    annotations: [] as Record<string, unknown>[],
  };
  if (labels.title) layout.title = { text: escapePlotlyText(labels.title), x: 0, xanchor: "left" };
  const hasNonFinite = stack.some((layer) =>
    layer.some((matrix) => matrix.some((row) => row.some((v) => !Number.isFinite(v)))),
  );
  layout.coloraxis =
    kind === "weights"
      ? {
          colorscale: WEIGHT_COLORSCALE,
          cmin: 0,
          cmax: 1,
          colorbar: { title: { text: escapePlotlyText(labels.colorbarTitle) } },
        }
      : {
          colorscale: "RdBu",
          cmid: 0,
          colorbar: { title: { text: escapePlotlyText(labels.colorbarTitle) } },
        };

  const valueName = escapePlotlyText(labels.colorbarTitle);
  for (let layer = 0; layer < layerCount; layer++) {
    for (let head = 0; head < headCount; head++) {
      const panel = layer * headCount + head;
      const suffix = panel === 0 ? "" : String(panel + 1);
      const matrix = stack[layer][head];
      const x0 = (head * (panelWidth + gapX)) / plotWidth;
      const x1 = (head * (panelWidth + gapX) + panelWidth) / plotWidth;
      const y1 = 1 - (layer * (panelHeight + gapY)) / plotHeight;
      const y0 = 1 - (layer * (panelHeight + gapY) + panelHeight) / plotHeight;
      const trace: Record<string, unknown> = {
        type: "heatmap",
        x: xCategories,
        y: yCategories,
        z: matrix.map((row) => row.map((v) => (Number.isFinite(v) ? v : null))),
        coloraxis: "coloraxis",
        xaxis: `x${suffix}`,
        yaxis: `y${suffix}`,
        xgap: showTicks ? 1 : 0,
        ygap: showTicks ? 1 : 0,
        hoverongaps: true,
        name: escapePlotlyText(labels.headLabels[head]),
      };
      if (kind === "weights" && !hasNonFinite) {
        trace.hovertemplate = `query %{y}<br>key %{x}<br>${valueName} %{z:.4f}<extra></extra>`;
      } else {
        trace.text = matrix.map((row) => row.map((v) => formatHoverValue(v, kind)));
        trace.hovertemplate = `query %{y}<br>key %{x}<br>${valueName} %{text}<extra></extra>`;
      }
      data.push(trace);
      const bottomRow = layer === layerCount - 1;
      const firstColumn = head === 0;
      layout[`xaxis${suffix}`] = {
        domain: [x0, x1],
        anchor: `y${suffix}`,
        type: "category",
        showticklabels: showTicks && bottomRow,
        tickangle: longestLabel > 3 ? -60 : 0,
        title: bottomRow ? { text: "key (column)" } : undefined,
        showgrid: false,
        ticks: "",
      };
      layout[`yaxis${suffix}`] = {
        domain: [y0, y1],
        anchor: `x${suffix}`,
        type: "category",
        autorange: "reversed",
        showticklabels: showTicks && firstColumn,
        title: firstColumn ? { text: "query (row)" } : undefined,
        showgrid: false,
        ticks: "",
      };
      const panelTitle =
        layerCount > 1
          ? `${labels.layerLabels[layer]}, ${labels.headLabels[head]}`
          : labels.headLabels[head];
      if (layerCount > 1 || headCount > 1) {
        (layout.annotations as Record<string, unknown>[]).push({
          text: escapePlotlyText(panelTitle),
          showarrow: false,
          xref: "paper",
          yref: "paper",
          x: (x0 + x1) / 2,
          y: y1,
          xanchor: "center",
          yanchor: "bottom",
          yshift: 4,
        });
      }
    }
  }
  return { data, layout, config: { ...PLOT_CONFIG } };
}

/** One line (or set of markers) of a sweep plot. */
export interface LineSeries {
  /** Legend entry. */
  name: string;
  x: readonly number[];
  y: readonly number[];
  /** `lines+markers` unless given. */
  mode?: "lines" | "markers" | "lines+markers";
  /** Line style; `solid` unless given. Use `dash` for fitted or theoretical curves. */
  dash?: "solid" | "dash" | "dot";
}

/** Titles and axes of a sweep plot. */
export interface LineChartLayout {
  title?: string;
  xLabel: string;
  yLabel: string;
  logX: boolean;
  logY: boolean;
  width?: number;
  height?: number;
}

// On a log axis plotly labels minor ticks with a bare digit ("2" for 20 or
// for 0.2), which misleads. A sweep's own x values (at most 12) become the
// ticks. Otherwise 1, 2 and 5 times powers of ten inside the data's range get
// ticks with full labels, and only powers of ten when the range spans more
// than four decades.
function logAxisTicks(
  axis: Record<string, unknown>,
  log: boolean,
  values: number[],
  useValues: boolean,
): Record<string, unknown> {
  if (!log) return axis;
  const positive = values.filter((v) => Number.isFinite(v) && v > 0);
  const distinct = [...new Set(positive)].sort((a, b) => a - b);
  if (useValues && distinct.length > 0 && distinct.length <= 12) {
    return { ...axis, tickvals: distinct };
  }
  if (distinct.length === 0) return axis;

  const low = distinct[0];
  const high = distinct[distinct.length - 1];
  const first = Math.floor(Math.log10(low));
  const last = Math.ceil(Math.log10(high));
  const mantissas = last - first > 4 ? [1] : [1, 2, 5];
  const ticks: number[] = [];
  for (let power = first; power <= last; power++) {
    for (const m of mantissas) {
      const tick = Number((m * 10 ** power).toPrecision(12));
      if (tick >= low / 1.5 && tick <= high * 1.5) ticks.push(tick);
    }
  }
  const label = (v: number): string => (v >= 1e-4 && v < 1e6 ? String(v) : v.toExponential(0));
  return { ...axis, tickvals: ticks, ticktext: ticks.map(label) };
}

/** Builds a plotly figure of line series, with optional log axes for power-law sweeps. */
export function lineFigure(series: LineSeries[], options: LineChartLayout): PlotlyFigure {
  const data = series.map((line) => ({
    type: "scatter",
    mode: line.mode ?? "lines+markers",
    name: escapePlotlyText(line.name),
    x: [...line.x],
    y: line.y.map((v) => (Number.isFinite(v) ? v : null)),
    line: { dash: line.dash ?? "solid" },
    hovertemplate: `${escapePlotlyText(line.name)}<br>${escapePlotlyText(options.xLabel)} %{x}<br>${escapePlotlyText(options.yLabel)} %{y:.4g}<extra></extra>`,
  }));
  const layout: Record<string, unknown> = {
    width: options.width ?? 640,
    height: options.height ?? 420,
    margin: { l: 80, r: 30, t: options.title ? 60 : 30, b: 60 },
    xaxis: logAxisTicks(
      { title: { text: escapePlotlyText(options.xLabel) }, type: options.logX ? "log" : "linear" },
      options.logX,
      series.flatMap((line) => [...line.x]),
      true,
    ),
    yaxis: logAxisTicks(
      { title: { text: escapePlotlyText(options.yLabel) }, type: options.logY ? "log" : "linear" },
      options.logY,
      series.flatMap((line) => [...line.y]),
      false,
    ),
  };
  if (options.title)
    layout.title = { text: escapePlotlyText(options.title), x: 0, xanchor: "left" };
  return { data, layout, config: { ...PLOT_CONFIG } };
}
