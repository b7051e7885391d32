/// <reference lib="dom" />
// Opens an exported report in Debian's headless chromium with every request
// that is not a file:// URL aborted and counted, and collects what the page
// shows: drawn plotly figures, rendered math, console errors and dialogs.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Chromium flags for a headless, network-quiet run on this machine. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** What a report page did and showed once loaded. */
export interface PageObservation {
  /** URLs of requests that were not file:// and were aborted. */
  blockedRequests: string[];
  consoleErrors: string[];
  pageErrors: string[];
  dialogs: string[];
  /** Elements plotly drew into (`.js-plotly-plot` with a `.main-svg` inside). */
  plotlyFigures: number;
  /** Heatmap traces drawn (`.hm` layers in plotly's SVG). */
  heatmapLayers: number;
  /** MathJax output elements. */
  mathElements: number;
  /** Text of the figure containers that show the "plotly.js is not loaded" message. */
  missingPlotlyMessages: number;
  /** Value of `window.__dotattnInjected`, set only if a hostile label ran script. */
  injectedMarker: unknown;
}

/** Starts chromium with a fresh user-data dir; `close()` removes it. */
export async function openBrowser(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const userDataDir = mkdtempSync(join(tmpdir(), "dotattn-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Loads `htmlPath`, waits until MathJax finished and every figure container was
 * drawn or gave up, and returns what was observed. With `screenshotPath` a
 * full-page PNG is written there.
 */
export async function observeReport(
  context: BrowserContext,
  htmlPath: string,
  screenshotPath?: string,
): Promise<PageObservation> {
  const page: Page = await context.newPage();
  const observation: PageObservation = {
    blockedRequests: [],
    consoleErrors: [],
    pageErrors: [],
    dialogs: [],
    plotlyFigures: 0,
    heatmapLayers: 0,
    mathElements: 0,
    missingPlotlyMessages: 0,
    injectedMarker: undefined,
  };
  await page.route("**/*", async (route) => {
    const url = route.request().url();
    if (url.startsWith("file://")) {
      await route.continue();
    } else {
      observation.blockedRequests.push(url);
      await route.abort();
    }
  });
  page.on("console", (message) => {
    if (message.type() === "error") observation.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => observation.pageErrors.push(String(error)));
  page.on("dialog", async (dialog) => {
    observation.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss();
  });
  await page.goto(pathToFileURL(htmlPath).href, { waitUntil: "load" });
  // MathJax sets this attribute once it has typeset the page (see the report template).
  await page.waitForSelector("body[data-mathjax-done='true']", { timeout: 120_000 });
  // Every figure container ends up with a drawn plot or with the fallback message.
  await page.waitForFunction(
    () =>
      Array.from(document.querySelectorAll(".dotattn-plot")).every(
        (element) => element.querySelector(".main-svg") !== null || element.textContent !== "",
      ),
    undefined,
    { timeout: 120_000 },
  );
  const counts = await page.evaluate(() => ({
    plotlyFigures: Array.from(document.querySelectorAll(".js-plotly-plot")).filter(
      (element) => element.querySelector(".main-svg") !== null,
    ).length,
    heatmapLayers: document.querySelectorAll(".js-plotly-plot .hm").length,
    mathElements: document.querySelectorAll("mjx-container svg").length,
    missingPlotlyMessages: Array.from(document.querySelectorAll(".dotattn-plot")).filter(
      (element) => element.querySelector(".main-svg") === null,
    ).length,
    injectedMarker: (window as unknown as { __dotattnInjected?: unknown }).__dotattnInjected,
  }));
  Object.assign(observation, counts);
  if (screenshotPath) await page.screenshot({ path: screenshotPath, fullPage: true });
  await page.close();
  return observation;
}
