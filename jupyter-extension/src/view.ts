/**
 * The interactive attention view: a canvas heatmap (keys on the horizontal
 * axis, queries on the vertical), token labels, layer and head selectors,
 * hover text and linked row and column highlighting.
 *
 * Every token is user text and reaches the page through `textContent` or
 * `setAttribute` only, never as HTML. Colours come from JupyterLab's CSS
 * variables and are read again when the theme changes.
 */
import type { AttentionPayload } from './payload.js';
import {
  cellAt,
  columnOf,
  cssRgb,
  describeCell,
  formatWeight,
  gridLayout,
  highlightFor,
  isHighlighted,
  parseCssColor,
  rankWeights,
  textColorOn,
  toggleSelection,
  tokensShared,
  weightRgb,
  weightsOf,
  chooseHead,
  type Cell,
  type ColorRamp,
  type GridLayout,
  type HeadChoice,
  type Highlight,
  type Rgb,
  type Selection
} from './viewModel.js';

/** How many entries the selection summary lists for a row or a column. */
const SUMMARY_LENGTH = 5;

/** Colours used when the CSS variables cannot be read (the node is not in the page yet). */
const FALLBACK_COLORS = {
  low: { r: 255, g: 255, b: 255 },
  high: { r: 25, g: 118, b: 210 },
  highlight: { r: 245, g: 124, b: 0 },
  hover: { r: 0, g: 0, b: 0 }
};

const HINT =
  'Hover over a cell to read its weight. Click a token or a cell to highlight its row (where the query attends) and column (what attends to the key).';

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** Theme colours read from the CSS variables that style/base.css defines. */
interface ThemeColors extends ColorRamp {
  highlight: Rgb;
  hover: Rgb;
}

/**
 * One drawn attention payload. Create it with a validated payload, put
 * `node` into the page, call {@link AttentionView.refresh} once the node is
 * attached, and call {@link AttentionView.dispose} before dropping it.
 */
export class AttentionView {
  /** The root element of the view. */
  readonly node: HTMLDivElement;

  private readonly payload: AttentionPayload;
  private readonly shared: boolean;
  private readonly layout: GridLayout;
  private choice: HeadChoice = { layer: 0, head: 0 };
  private selection: Selection | null = null;
  private hovered: Cell | null = null;
  private colors: ThemeColors = FALLBACK_COLORS;
  private cellImage: HTMLCanvasElement | null = null;
  private disposed = false;
  private themeObserver: MutationObserver | null = null;
  private pendingFrame = 0;

  private readonly layerSelect: HTMLSelectElement;
  private readonly headSelect: HTMLSelectElement;
  private readonly readout: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement | null = null;
  private readonly queryLabels: HTMLButtonElement[] = [];
  private readonly keyLabels: HTMLButtonElement[] = [];
  private readonly summary: HTMLDivElement;
  private readonly legend: HTMLCanvasElement;
  private readonly probes: Record<keyof ThemeColors, HTMLSpanElement>;

  constructor(payload: AttentionPayload) {
    this.payload = payload;
    const rowCount = payload.queryTokens.length;
    const columnCount = payload.keyTokens.length;
    this.shared = tokensShared(payload.queryTokens, payload.keyTokens);
    this.layout = gridLayout(rowCount, columnCount);

    this.node = element('div', 'jp-DotattnView');
    this.node.setAttribute('data-query-count', String(rowCount));
    this.node.setAttribute('data-key-count', String(columnCount));

    if (payload.title !== undefined) {
      this.node.appendChild(element('div', 'jp-DotattnView-title', payload.title));
    }

    const controls = element('div', 'jp-DotattnView-controls');
    this.layerSelect = this.createSelect(
      controls,
      'Layer',
      'jp-DotattnView-layer',
      payload.layers.map(layer => layer.label)
    );
    this.headSelect = this.createSelect(controls, 'Head', 'jp-DotattnView-head', []);
    controls.appendChild(
      element(
        'span',
        'jp-DotattnView-shape',
        `L = ${rowCount} queries (rows) × S = ${columnCount} keys (columns)`
      )
    );
    this.node.appendChild(controls);

    this.readout = element('div', 'jp-DotattnView-readout', HINT);
    this.readout.setAttribute('aria-live', 'polite');

    const probeBox = element('div', 'jp-DotattnView-probes');
    probeBox.setAttribute('aria-hidden', 'true');
    const probe = (name: string): HTMLSpanElement => {
      const span = element('span', `jp-DotattnView-probe-${name}`);
      probeBox.appendChild(span);
      return span;
    };
    this.probes = {
      low: probe('low'),
      high: probe('high'),
      highlight: probe('highlight'),
      hover: probe('hover')
    };
    this.node.appendChild(probeBox);

    this.summary = element('div', 'jp-DotattnView-summary');
    this.legend = element('canvas', 'jp-DotattnView-legendBar');

    if (rowCount === 0 || columnCount === 0) {
      this.node.appendChild(
        element(
          'div',
          'jp-DotattnView-empty',
          `Nothing to draw: the payload has ${rowCount} query tokens and ${columnCount} key tokens, so the weight matrices are empty.`
        )
      );
    } else {
      this.node.appendChild(this.readout);
      this.canvas = element('canvas', 'jp-DotattnView-canvas');
      this.node.appendChild(this.createGrid(this.canvas));
      this.node.appendChild(this.createLegend());
      this.node.appendChild(this.summary);
    }

    if (payload.caption !== undefined) {
      this.node.appendChild(element('div', 'jp-DotattnView-caption', payload.caption));
    }

    this.layerSelect.addEventListener('change', () => {
      this.setChoice({ layer: Number(this.layerSelect.value) });
    });
    this.headSelect.addEventListener('change', () => {
      this.setChoice({ head: Number(this.headSelect.value) });
    });
    this.updateHeadOptions();
    this.updateState();

    // JupyterLab marks the theme on <body>; colours are read again on change.
    this.themeObserver = new MutationObserver(() => this.scheduleRefresh());
    this.themeObserver.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
  }

  /** Whether {@link AttentionView.dispose} has run. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The layer and head on display. */
  get current(): HeadChoice {
    return { ...this.choice };
  }

  /**
   * Reads the theme colours again and redraws. Call it once the node is in
   * the page, because detached elements have no computed style.
   */
  refresh(): void {
    if (this.disposed) {
      return;
    }
    this.colors = this.readColors();
    this.cellImage = null;
    this.drawLegend();
    this.draw();
  }

  /** Shows another layer or head, as the selectors do. */
  setChoice(change: { layer?: number; head?: number }): void {
    const next = chooseHead(this.payload, this.choice, change);
    const layerChanged = next.layer !== this.choice.layer;
    this.choice = next;
    if (layerChanged) {
      this.updateHeadOptions();
    }
    this.layerSelect.value = String(next.layer);
    this.headSelect.value = String(next.head);
    this.cellImage = null;
    this.updateState();
    this.draw();
  }

  /** Removes listeners and observers and empties the node. Safe to call twice. */
  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    this.themeObserver?.disconnect();
    this.themeObserver = null;
    if (this.pendingFrame !== 0) {
      cancelAnimationFrame(this.pendingFrame);
      this.pendingFrame = 0;
    }
    this.cellImage = null;
    // Replacing the children drops every listener added to them.
    this.node.replaceChildren();
    this.node.remove();
  }

  private createSelect(
    parent: HTMLElement,
    caption: string,
    className: string,
    options: readonly string[]
  ): HTMLSelectElement {
    const label = element('label', 'jp-DotattnView-control');
    label.appendChild(element('span', 'jp-DotattnView-controlLabel', caption));
    const select = element('select', `jp-DotattnView-select ${className}`);
    select.setAttribute('aria-label', caption);
    this.fillOptions(select, options);
    label.appendChild(select);
    parent.appendChild(label);
    return select;
  }

  private fillOptions(select: HTMLSelectElement, options: readonly string[]): void {
    select.replaceChildren();
    options.forEach((text, index) => {
      const option = element('option', '', text);
      option.value = String(index);
      select.appendChild(option);
    });
    select.disabled = options.length <= 1;
  }

  private updateHeadOptions(): void {
    const heads = this.payload.layers[this.choice.layer].heads;
    this.fillOptions(
      this.headSelect,
      heads.map(head => head.label)
    );
    this.headSelect.value = String(this.choice.head);
  }

  private createGrid(canvas: HTMLCanvasElement): HTMLDivElement {
    const { cellSize, showLabels } = this.layout;
    const rowCount = this.payload.queryTokens.length;
    const columnCount = this.payload.keyTokens.length;
    const scroll = element('div', 'jp-DotattnView-scroll');
    const grid = element('div', 'jp-DotattnView-grid');
    grid.style.setProperty('--jp-dotattn-cell-size', `${cellSize}px`);
    grid.style.setProperty('--jp-dotattn-label-font-size', `${Math.min(12, cellSize - 2)}px`);
    if (!showLabels) {
      grid.classList.add('jp-mod-noLabels');
    }

    const corner = element('div', 'jp-DotattnView-corner');
    corner.appendChild(element('span', 'jp-DotattnView-axisName', 'keys →'));
    corner.appendChild(element('span', 'jp-DotattnView-axisName', 'queries ↓'));
    grid.appendChild(corner);

    const keys = element('div', 'jp-DotattnView-keys');
    this.payload.keyTokens.forEach((token, index) => {
      const button = this.createLabel(token, index, 'key');
      keys.appendChild(button);
      this.keyLabels.push(button);
    });
    grid.appendChild(keys);

    const queries = element('div', 'jp-DotattnView-queries');
    this.payload.queryTokens.forEach((token, index) => {
      const button = this.createLabel(token, index, 'query');
      queries.appendChild(button);
      this.queryLabels.push(button);
    });
    grid.appendChild(queries);

    canvas.style.width = `${columnCount * cellSize}px`;
    canvas.style.height = `${rowCount * cellSize}px`;
    canvas.setAttribute('role', 'img');
    canvas.setAttribute(
      'aria-label',
      `Attention weights heatmap, ${rowCount} queries by ${columnCount} keys`
    );
    canvas.addEventListener('mousemove', event => {
      this.setHovered(cellAt(event.offsetX, event.offsetY, cellSize, rowCount, columnCount));
    });
    canvas.addEventListener('mouseleave', () => this.setHovered(null));
    canvas.addEventListener('click', event => {
      const cell = cellAt(event.offsetX, event.offsetY, cellSize, rowCount, columnCount);
      if (cell !== null) {
        this.select({ kind: 'cell', query: cell.query, key: cell.key });
      }
    });
    grid.appendChild(canvas);

    scroll.appendChild(grid);
    return scroll;
  }

  private createLabel(
    token: string,
    index: number,
    axis: 'query' | 'key'
  ): HTMLButtonElement {
    const button = element('button', `jp-DotattnView-label jp-DotattnView-${axis}Label`);
    button.type = 'button';
    // Token text is user data: textContent and attributes only.
    button.textContent = token;
    button.setAttribute('title', `${axis} ${index}: ${JSON.stringify(token)}`);
    button.setAttribute('data-index', String(index));
    button.addEventListener('click', () => this.select({ kind: axis, index }));
    return button;
  }

  private createLegend(): HTMLDivElement {
    const legend = element('div', 'jp-DotattnView-legend');
    legend.appendChild(element('span', 'jp-DotattnView-legendText', 'weight 0'));
    legend.appendChild(this.legend);
    legend.appendChild(element('span', 'jp-DotattnView-legendText', '1'));
    return legend;
  }

  private select(clicked: Selection): void {
    this.selection = toggleSelection(this.selection, clicked);
    this.updateState();
    this.draw();
  }

  private setHovered(cell: Cell | null): void {
    const same =
      cell === this.hovered ||
      (cell !== null &&
        this.hovered !== null &&
        cell.query === this.hovered.query &&
        cell.key === this.hovered.key);
    if (same) {
      return;
    }
    this.hovered = cell;
    this.updateReadout();
    this.draw();
  }

  private currentHighlight(): Highlight {
    return highlightFor(
      this.selection,
      this.payload.queryTokens.length,
      this.payload.keyTokens.length,
      this.shared
    );
  }

  /** Updates data attributes, label classes, hover text and the summary. */
  private updateState(): void {
    const highlight = this.currentHighlight();
    this.node.setAttribute('data-layer', String(this.choice.layer));
    this.node.setAttribute('data-head', String(this.choice.head));
    this.node.setAttribute('data-selected-row', highlight.row === null ? '' : String(highlight.row));
    this.node.setAttribute(
      'data-selected-column',
      highlight.column === null ? '' : String(highlight.column)
    );
    this.queryLabels.forEach((label, index) =>
      label.classList.toggle('jp-mod-selected', index === highlight.row)
    );
    this.keyLabels.forEach((label, index) =>
      label.classList.toggle('jp-mod-selected', index === highlight.column)
    );
    this.updateReadout();
    this.updateSummary(highlight);
  }

  private updateReadout(): void {
    const cell = this.hovered;
    if (cell === null) {
      this.readout.textContent = HINT;
      this.readout.removeAttribute('data-query');
      this.readout.removeAttribute('data-key');
      this.readout.removeAttribute('data-weight');
      return;
    }
    const weight = weightsOf(this.payload, this.choice)[cell.query][cell.key];
    this.readout.textContent = describeCell(this.payload, this.choice, cell);
    this.readout.setAttribute('data-query', String(cell.query));
    this.readout.setAttribute('data-key', String(cell.key));
    this.readout.setAttribute('data-weight', String(weight));
  }

  private updateSummary(highlight: Highlight): void {
    this.summary.replaceChildren();
    const weights = weightsOf(this.payload, this.choice);
    const { queryTokens, keyTokens } = this.payload;
    const addList = (heading: string, ranked: { index: number; weight: number }[], tokens: string[], axis: string): void => {
      const section = element('div', 'jp-DotattnView-summarySection');
      section.appendChild(element('div', 'jp-DotattnView-summaryHeading', heading));
      const list = element('ol', 'jp-DotattnView-summaryList');
      for (const entry of ranked) {
        list.appendChild(
          element(
            'li',
            'jp-DotattnView-summaryItem',
            `${axis} ${entry.index} ${JSON.stringify(tokens[entry.index])}: ${formatWeight(entry.weight)}`
          )
        );
      }
      section.appendChild(list);
      this.summary.appendChild(section);
    };
    if (highlight.row !== null) {
      addList(
        `Row: query ${highlight.row} ${JSON.stringify(queryTokens[highlight.row])} attends most to`,
        rankWeights(weights[highlight.row], SUMMARY_LENGTH),
        keyTokens,
        'key'
      );
    }
    if (highlight.column !== null) {
      addList(
        `Column: key ${highlight.column} ${JSON.stringify(keyTokens[highlight.column])} gets the most attention from`,
        rankWeights(columnOf(weights, highlight.column), SUMMARY_LENGTH),
        queryTokens,
        'query'
      );
    }
  }

  private readColors(): ThemeColors {
    const read = (name: keyof ThemeColors): Rgb =>
      parseCssColor(getComputedStyle(this.probes[name]).color) ?? FALLBACK_COLORS[name];
    const colors = {
      low: read('low'),
      high: read('high'),
      highlight: read('highlight'),
      hover: read('hover')
    };
    this.node.setAttribute('data-color-low', cssRgb(colors.low));
    this.node.setAttribute('data-color-high', cssRgb(colors.high));
    return colors;
  }

  private scheduleRefresh(): void {
    if (this.pendingFrame !== 0 || this.disposed) {
      return;
    }
    this.pendingFrame = requestAnimationFrame(() => {
      this.pendingFrame = 0;
      this.refresh();
    });
  }

  /** Paints one pixel per cell; the visible canvas scales it up without smoothing. */
  private renderCellImage(): HTMLCanvasElement {
    const weights = weightsOf(this.payload, this.choice);
    const rowCount = weights.length;
    const columnCount = this.payload.keyTokens.length;
    const image = document.createElement('canvas');
    image.width = columnCount;
    image.height = rowCount;
    const context = image.getContext('2d');
    if (context === null) {
      return image;
    }
    const pixels = context.createImageData(columnCount, rowCount);
    for (let i = 0; i < rowCount; i++) {
      for (let j = 0; j < columnCount; j++) {
        const color = weightRgb(weights[i][j], this.colors);
        const offset = 4 * (i * columnCount + j);
        pixels.data[offset] = color.r;
        pixels.data[offset + 1] = color.g;
        pixels.data[offset + 2] = color.b;
        pixels.data[offset + 3] = 255;
      }
    }
    context.putImageData(pixels, 0, 0);
    return image;
  }

  private draw(): void {
    const canvas = this.canvas;
    if (this.disposed || canvas === null) {
      return;
    }
    const { cellSize, showValues } = this.layout;
    const weights = weightsOf(this.payload, this.choice);
    const rowCount = this.payload.queryTokens.length;
    const columnCount = this.payload.keyTokens.length;
    const width = columnCount * cellSize;
    const height = rowCount * cellSize;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const context = canvas.getContext('2d');
    if (context === null) {
      return;
    }
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.cellImage ??= this.renderCellImage();
    context.imageSmoothingEnabled = false;
    context.drawImage(this.cellImage, 0, 0, width, height);

    if (showValues) {
      context.font = `${Math.min(11, Math.floor(cellSize / 3))}px monospace`;
      context.textAlign = 'center';
      context.textBaseline = 'middle';
      for (let i = 0; i < rowCount; i++) {
        for (let j = 0; j < columnCount; j++) {
          const weight = weights[i][j];
          context.fillStyle = textColorOn(weightRgb(weight, this.colors));
          context.fillText(weight.toFixed(2), (j + 0.5) * cellSize, (i + 0.5) * cellSize);
        }
      }
    }

    const highlight = this.currentHighlight();
    if (highlight.row !== null || highlight.column !== null) {
      // Veil the cells outside the highlighted row and column.
      context.fillStyle = cssRgb(this.colors.low);
      context.globalAlpha = 0.6;
      for (let i = 0; i < rowCount; i++) {
        for (let j = 0; j < columnCount; j++) {
          if (!isHighlighted(highlight, { query: i, key: j })) {
            context.fillRect(j * cellSize, i * cellSize, cellSize, cellSize);
          }
        }
      }
      context.globalAlpha = 1;
      context.strokeStyle = cssRgb(this.colors.highlight);
      context.lineWidth = 2;
      if (highlight.row !== null) {
        context.strokeRect(1, highlight.row * cellSize + 1, width - 2, cellSize - 2);
      }
      if (highlight.column !== null) {
        context.strokeRect(highlight.column * cellSize + 1, 1, cellSize - 2, height - 2);
      }
    }

    if (this.hovered !== null) {
      context.strokeStyle = cssRgb(this.colors.hover);
      context.lineWidth = 1.5;
      context.strokeRect(
        this.hovered.key * cellSize + 0.75,
        this.hovered.query * cellSize + 0.75,
        cellSize - 1.5,
        cellSize - 1.5
      );
    }
  }

  private drawLegend(): void {
    const width = 160;
    const height = 10;
    const ratio = window.devicePixelRatio || 1;
    this.legend.width = Math.round(width * ratio);
    this.legend.height = Math.round(height * ratio);
    this.legend.style.width = `${width}px`;
    this.legend.style.height = `${height}px`;
    const context = this.legend.getContext('2d');
    if (context === null) {
      return;
    }
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    for (let x = 0; x < width; x++) {
      context.fillStyle = cssRgb(weightRgb(x / (width - 1), this.colors));
      context.fillRect(x, 0, 1, height);
    }
  }
}
