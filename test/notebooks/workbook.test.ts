// Executes every notebook in notebooks/ with the tslab kernel through the
// report pipeline, then opens each exported HTML page in headless chromium with
// every non-file:// request aborted and counted.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { observeReport, openBrowser, type PageObservation } from "./browser.js";
import { ROOT, runReport, workbookEnvironmentReady, type ReportRun } from "./report.js";

const PLOTLY_MARKER = "data-dotattn-plotly=";
const ready = workbookEnvironmentReady();

describe.runIf(ready)("workbook report", () => {
  let outDir: string;
  let run: ReportRun;
  const observations = new Map<string, PageObservation>();
  const screenshots = process.env.DOTATTN_SCREENSHOTS;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), "dotattn-report-"));
    run = runReport(outDir);
    const browser = await openBrowser();
    try {
      for (const entry of run.summary) {
        const shot = screenshots ? join(screenshots, `${basename(entry.html, ".html")}.png`) : undefined;
        observations.set(entry.html, await observeReport(browser.context, join(outDir, entry.html), shot));
      }
    } finally {
      await browser.close();
    }
  });

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it("executes every notebook without error", () => {
    expect(run.stderr).not.toContain("failed");
    expect(run.status, run.stderr).toBe(0);
    const names = run.summary.map((entry) => basename(entry.notebook)).sort();
    expect(names.length).toBeGreaterThanOrEqual(4);
    expect(run.summary.filter((entry) => entry.error !== null)).toEqual([]);
  });

  it("writes an index page linking every report", () => {
    const index = readFileSync(join(outDir, "index.html"), "utf8");
    for (const entry of run.summary) expect(index).toContain(`href="${entry.html}"`);
  });

  it("sends no request outside the page", () => {
    for (const [page, observation] of observations) {
      expect(observation.blockedRequests, page).toEqual([]);
    }
  });

  it("logs no console or page errors", () => {
    for (const [page, observation] of observations) {
      expect(observation.consoleErrors, page).toEqual([]);
      expect(observation.pageErrors, page).toEqual([]);
      expect(observation.dialogs, page).toEqual([]);
    }
  });

  it("draws every figure the notebook emits", () => {
    for (const entry of run.summary) {
      const observation = observations.get(entry.html)!;
      expect(entry.figures, `${entry.html} emits figures`).toBeGreaterThan(0);
      expect(observation.plotlyFigures, entry.html).toBe(entry.figures);
      expect(observation.missingPlotlyMessages, entry.html).toBe(0);
    }
  });

  it("inlines plotly.js once per report", () => {
    for (const entry of run.summary) {
      const html = readFileSync(join(outDir, entry.html), "utf8");
      expect(html.split(PLOTLY_MARKER).length - 1, entry.html).toBe(1);
    }
  });

  it("renders markdown math offline", () => {
    for (const [page, observation] of observations) {
      expect(observation.mathElements, page).toBeGreaterThan(0);
    }
  });

  it("draws the notebooks' attention heatmaps", () => {
    const derivation = run.summary.find((entry) => basename(entry.notebook).startsWith("01-"))!;
    expect(observations.get(derivation.html)!.heatmapLayers).toBeGreaterThanOrEqual(5);
  });

  it("loads no script or stylesheet by URL", () => {
    for (const entry of run.summary) {
      const html = readFileSync(join(outDir, entry.html), "utf8");
      expect(html, entry.html).not.toMatch(/<script[^>]*\ssrc=/);
      expect(html, entry.html).not.toMatch(/<link[^>]*stylesheet/);
    }
  });
});

describe.runIf(ready)("report command", () => {
  it("names the failing notebook and cell", () => {
    const outDir = mkdtempSync(join(tmpdir(), "dotattn-failing-"));
    try {
      const run = runReport(outDir, [join(ROOT, "test", "notebooks", "fixtures", "failing-cell.ipynb")]);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        "test/notebooks/fixtures/failing-cell.ipynb: cell 3 (code cell 2, under the heading 'The section that fails') failed",
      );
      expect(run.stderr).toContain("RangeError: this claim is false");
      expect(run.summary[0].failedCell).toBe(2);
      expect(run.stdout).not.toContain("never reached");
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
