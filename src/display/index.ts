/**
 * Display helpers for the dotattn workbook: attention heatmaps and sweep plots
 * as Jupyter MIME bundles (plotly JSON, offline HTML with plotly.js inlined once
 * per kernel session, and the `application/vnd.dotattn.attention+json` payload),
 * emitted through the tslab kernel, plus checks that print and enforce the facts
 * that notebook cells state.
 *
 * Nothing here imports tslab: outside a tslab kernel, `show*` functions print
 * the bundle's text summary instead.
 *
 * @packageDocumentation
 */

export {
  PLOTLY_MIME_TYPE,
  attentionHeatmapBundle,
  isPlotlyInlined,
  lineChartBundle,
  matrixHeatmapBundle,
  resetPlotlyInlining,
  showAttention,
  showLineChart,
  showMatrix,
  type BundleOptions,
  type HeatmapOptions,
  type LineChartOptions,
} from "./bundles.js";
export {
  checkAtLeast,
  checkAtMost,
  checkBetween,
  checkClose,
  checkTrue,
  fitPowerLaw,
  formatNumber,
  maxAbsDifference,
  type PowerLawFit,
} from "./checks.js";
export { escapeHtml, escapePlotlyText, jsonForScript } from "./escape.js";
export type { LineSeries, PlotlyFigure } from "./figures.js";
export { PLOTLY_SCRIPT_ATTRIBUTE, figureHtml } from "./html.js";
export type { ArrayConvertible, MatrixInput } from "./matrix.js";
export {
  ATTENTION_MIME_TYPE,
  MAX_PAYLOAD_NUMBERS,
  MAX_PAYLOAD_TOKENS,
  validateAttentionPayload,
  type AttentionPayload,
  type AttentionPayloadHead,
  type AttentionPayloadLayer,
} from "./payload.js";
export { displayBundle, type MimeBundle } from "./tslab.js";
