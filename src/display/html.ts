// The offline `text/html` form of a figure: a container, an optional inlined
// copy of plotly.js, and a script that draws the figure into its own container.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { escapeHtml, jsonForScript, scriptSafeSource } from "./escape.js";
import type { PlotlyFigure } from "./figures.js";

/** Attribute that marks the one inlined copy of plotly.js in a page. */
export const PLOTLY_SCRIPT_ATTRIBUTE = "data-dotattn-plotly";

let plotlySource: { version: string; code: string } | undefined;

/**
 * Reads plotly.js from the installed `plotly.js-dist-min` package (cached after
 * the first call). No network: the file comes from node_modules.
 *
 * @throws Error when `plotly.js-dist-min` is not installed.
 */
export function loadPlotlySource(): { version: string; code: string } {
  if (plotlySource === undefined) {
    const require = createRequire(import.meta.url);
    const packageJson = require.resolve("plotly.js-dist-min/package.json");
    const version = (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version;
    const code = readFileSync(require.resolve("plotly.js-dist-min"), "utf8");
    plotlySource = { version, code: scriptSafeSource(code) };
  }
  return plotlySource;
}

/**
 * Renders a figure as self-contained HTML.
 *
 * With `includePlotlyJs`, the HTML carries plotly.js itself (about 4.7 MB);
 * without it, the drawing script uses the `window.Plotly` that an earlier
 * output on the same page defined, and shows a message in place of the figure
 * when there is none. The script finds its container through
 * `document.currentScript`, so the HTML needs no element ids.
 */
export function figureHtml(
  figure: PlotlyFigure,
  options: { caption?: string; includePlotlyJs: boolean },
): string {
  const parts: string[] = ['<div class="dotattn-figure">'];
  if (options.includePlotlyJs) {
    const plotly = loadPlotlySource();
    parts.push(
      `<script type="text/javascript" ${PLOTLY_SCRIPT_ATTRIBUTE}="${escapeHtml(plotly.version)}">${plotly.code}</script>`,
    );
  }
  const width = Number(figure.layout.width) || 640;
  const height = Number(figure.layout.height) || 420;
  parts.push(
    `<div class="dotattn-plot" style="width:${width}px;height:${height}px;max-width:100%;overflow-x:auto"></div>`,
  );
  if (options.caption) {
    parts.push(
      `<p class="dotattn-caption" style="font-size:0.9em;color:#555;margin:4px 0 0 0;max-width:${width}px">${escapeHtml(options.caption)}</p>`,
    );
  }
  // The spec is JSON made safe for a script element: no string can end the script.
  parts.push(
    `<script type="text/javascript">(function () {
  var script = document.currentScript;
  var container = script && script.parentNode && script.parentNode.querySelector(".dotattn-plot");
  if (!container) return;
  var figure = ${jsonForScript(figure)};
  if (window.Plotly && typeof window.Plotly.newPlot === "function") {
    window.Plotly.newPlot(container, figure.data, figure.layout, figure.config);
  } else {
    container.textContent = "plotly.js is not loaded on this page. The first figure after resetPlotlyInlining() carries it: run the notebook's first code cell again (it calls resetPlotlyInlining()), or use Kernel > Restart Kernel and Run All Cells.";
  }
})();</script>`,
  );
  parts.push("</div>");
  return parts.join("");
}
