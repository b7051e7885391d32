/**
 * Pure view logic of the attention heatmap: colour mapping, layout, hit
 * testing, linked highlighting and layer/head switching. Nothing here touches
 * the DOM, so unit tests run it in Node.
 *
 * Dimension legend: L query tokens (rows), S key tokens (columns).
 */
import type { AttentionPayload } from './payload.js';

/** A colour as red, green and blue channels, each an integer in [0, 255]. */
export interface Rgb {
  r: number;
  g: number;
  b: number;
}

/** The two ends of the colour scale: `low` is weight 0, `high` is weight 1. */
export interface ColorRamp {
  low: Rgb;
  high: Rgb;
}

/**
 * Parses a CSS colour as browsers report computed colours (`rgb(1, 2, 3)`,
 * `rgba(1, 2, 3, 0.5)`, `rgb(1 2 3)`) or as hex (`#abc`, `#aabbcc`).
 * Returns null for any other text. The alpha channel is ignored.
 */
export function parseCssColor(text: string): Rgb | null {
  const value = text.trim().toLowerCase();
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/.exec(value);
  if (hex) {
    const digits =
      hex[1].length === 3
        ? hex[1]
            .split('')
            .map(digit => digit + digit)
            .join('')
        : hex[1];
    return {
      r: parseInt(digits.slice(0, 2), 16),
      g: parseInt(digits.slice(2, 4), 16),
      b: parseInt(digits.slice(4, 6), 16)
    };
  }
  const functional = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/.exec(
    value
  );
  if (functional) {
    const channel = (digits: string): number =>
      Math.max(0, Math.min(255, Math.round(Number(digits))));
    return {
      r: channel(functional[1]),
      g: channel(functional[2]),
      b: channel(functional[3])
    };
  }
  return null;
}

/**
 * Maps a weight to its cell colour: a linear blend from `ramp.low` (weight 0)
 * to `ramp.high` (weight 1) in sRGB. Weights outside [0, 1] are clamped, so
 * that a rounding error never wraps a colour.
 */
export function weightRgb(weight: number, ramp: ColorRamp): Rgb {
  const t = Math.max(0, Math.min(1, weight));
  const blend = (low: number, high: number): number =>
    Math.round(low + (high - low) * t);
  return {
    r: blend(ramp.low.r, ramp.high.r),
    g: blend(ramp.low.g, ramp.high.g),
    b: blend(ramp.low.b, ramp.high.b)
  };
}

/** Formats a colour as CSS `rgb(r, g, b)`. */
export function cssRgb(color: Rgb): string {
  return `rgb(${color.r}, ${color.g}, ${color.b})`;
}

/** Relative luminance in [0, 1] of an sRGB colour (WCAG 2 definition). */
export function relativeLuminance(color: Rgb): number {
  const linear = (channel: number): number => {
    const c = channel / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return (
    0.2126 * linear(color.r) +
    0.7152 * linear(color.g) +
    0.0722 * linear(color.b)
  );
}

/**
 * Picks black or white text for a cell background, whichever has the higher
 * WCAG contrast ratio.
 */
export function textColorOn(background: Rgb): '#000000' | '#ffffff' {
  const luminance = relativeLuminance(background);
  const contrastWithBlack = (luminance + 0.05) / 0.05;
  const contrastWithWhite = 1.05 / (luminance + 0.05);
  return contrastWithBlack >= contrastWithWhite ? '#000000' : '#ffffff';
}

/** Sizes of the heatmap grid in CSS pixels. */
export interface GridLayout {
  /** The side of one square cell. */
  cellSize: number;
  /** Whether token labels are large enough to read (cells of 10 px or more). */
  showLabels: boolean;
  /** Whether each cell is large enough to print its weight (28 px or more). */
  showValues: boolean;
}

/** The preferred length of the longer side of the heatmap, in CSS pixels. */
export const TARGET_GRID_SIZE = 480;

/**
 * Chooses the cell size for an L x S heatmap so that the longer side is about
 * {@link TARGET_GRID_SIZE} px, with cells between 3 px and 36 px.
 */
export function gridLayout(rowCount: number, columnCount: number): GridLayout {
  const longest = Math.max(rowCount, columnCount, 1);
  const cellSize = Math.max(3, Math.min(36, Math.floor(TARGET_GRID_SIZE / longest)));
  return {
    cellSize,
    showLabels: cellSize >= 10,
    showValues: cellSize >= 28
  };
}

/** A cell of the heatmap: query (row) index and key (column) index. */
export interface Cell {
  query: number;
  key: number;
}

/**
 * Returns the cell under a point given in CSS pixels from the grid's top-left
 * corner, or null when the point is outside the L x S grid.
 */
export function cellAt(
  x: number,
  y: number,
  cellSize: number,
  rowCount: number,
  columnCount: number
): Cell | null {
  if (!(x >= 0 && y >= 0)) {
    return null;
  }
  const key = Math.floor(x / cellSize);
  const query = Math.floor(y / cellSize);
  if (query >= rowCount || key >= columnCount) {
    return null;
  }
  return { query, key };
}

/** A click target: a query label, a key label or a cell. */
export type Selection =
  | { kind: 'query'; index: number }
  | { kind: 'key'; index: number }
  | { kind: 'cell'; query: number; key: number };

/** The highlighted row (a query) and column (a key); null where none is. */
export interface Highlight {
  row: number | null;
  column: number | null;
}

/**
 * Returns true when both lists hold the same tokens in the same order, as in
 * self-attention. Then a token is both a query and a key, and clicking either
 * of its labels highlights its row and its column.
 */
export function tokensShared(
  queryTokens: readonly string[],
  keyTokens: readonly string[]
): boolean {
  return (
    queryTokens.length === keyTokens.length &&
    queryTokens.every((token, index) => token === keyTokens[index])
  );
}

/**
 * Returns the row and column to highlight for a selection. The row of query
 * token i shows where it attends; the column of key token j shows what
 * attends to it. With shared tokens, a label selects both the row and the
 * column of its token. A cell selects its own row and column. Indices outside
 * the L x S grid give no highlight on that axis.
 */
export function highlightFor(
  selection: Selection | null,
  rowCount: number,
  columnCount: number,
  shared: boolean
): Highlight {
  if (selection === null) {
    return { row: null, column: null };
  }
  const row = (index: number): number | null =>
    index >= 0 && index < rowCount ? index : null;
  const column = (index: number): number | null =>
    index >= 0 && index < columnCount ? index : null;
  switch (selection.kind) {
    case 'query':
      return {
        row: row(selection.index),
        column: shared ? column(selection.index) : null
      };
    case 'key':
      return {
        row: shared ? row(selection.index) : null,
        column: column(selection.index)
      };
    case 'cell':
      return { row: row(selection.query), column: column(selection.key) };
  }
}

/** Returns true when the cell lies in the highlighted row or column. */
export function isHighlighted(highlight: Highlight, cell: Cell): boolean {
  return highlight.row === cell.query || highlight.column === cell.key;
}

/** Returns the selection that a click on the same target again clears. */
export function toggleSelection(
  current: Selection | null,
  clicked: Selection
): Selection | null {
  return current !== null && sameSelection(current, clicked) ? null : clicked;
}

function sameSelection(a: Selection, b: Selection): boolean {
  if (a.kind === 'cell' && b.kind === 'cell') {
    return a.query === b.query && a.key === b.key;
  }
  if (a.kind !== 'cell' && b.kind !== 'cell') {
    return a.kind === b.kind && a.index === b.index;
  }
  return false;
}

/** The layer and head on display. */
export interface HeadChoice {
  layer: number;
  head: number;
}

/**
 * Returns the layer and head to show after the user picks a layer or a head.
 * Changing the layer keeps the head index when the new layer has that head,
 * else shows head 0. Indices out of range are clamped to the nearest valid one.
 */
export function chooseHead(
  payload: AttentionPayload,
  current: HeadChoice,
  change: { layer?: number; head?: number }
): HeadChoice {
  const clamp = (value: number, count: number): number =>
    Math.max(0, Math.min(count - 1, Math.trunc(value)));
  const layer = clamp(change.layer ?? current.layer, payload.layers.length);
  const headCount = payload.layers[layer].heads.length;
  let head = change.head ?? current.head;
  if (change.head === undefined && head >= headCount) {
    head = 0;
  }
  return { layer, head: clamp(head, headCount) };
}

/** Returns the L x S weights of the chosen layer and head. */
export function weightsOf(
  payload: AttentionPayload,
  choice: HeadChoice
): number[][] {
  return payload.layers[choice.layer].heads[choice.head].weights;
}

/** A token position with its weight, as listed in the selection summary. */
export interface RankedWeight {
  index: number;
  weight: number;
}

/**
 * Returns the `limit` largest weights of a row or column, largest first; ties
 * keep the lower index first.
 */
export function rankWeights(
  values: readonly number[],
  limit: number
): RankedWeight[] {
  return values
    .map((weight, index) => ({ index, weight }))
    .sort((a, b) => b.weight - a.weight || a.index - b.index)
    .slice(0, Math.max(0, limit));
}

/** Returns column j of an L x S matrix: how much each query attends to key j. */
export function columnOf(weights: readonly number[][], key: number): number[] {
  return weights.map(row => row[key]);
}

/** Formats a weight with 4 decimals, as the hover text shows it. */
export function formatWeight(weight: number): string {
  return weight.toFixed(4);
}

/**
 * Describes one cell for the hover text, with positions so that repeated
 * tokens stay apart: `query 2 "cat" → key 0 "[CLS]": 0.2000`.
 */
export function describeCell(
  payload: AttentionPayload,
  choice: HeadChoice,
  cell: Cell
): string {
  const weight = weightsOf(payload, choice)[cell.query][cell.key];
  const query = JSON.stringify(payload.queryTokens[cell.query]);
  const key = JSON.stringify(payload.keyTokens[cell.key]);
  return `query ${cell.query} ${query} → key ${cell.key} ${key}: ${formatWeight(weight)}`;
}
