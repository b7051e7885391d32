// A notebook that displays heatmaps and a chart whose labels are HTML and
// script: the exported report must show them as text and run none of them.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { observeReport, openBrowser, type PageObservation } from "./browser.js";
import { ROOT, runReport, workbookEnvironmentReady, type ReportRun } from "./report.js";

describe.runIf(workbookEnvironmentReady())("hostile token labels", () => {
  let outDir: string;
  let run: ReportRun;
  let observation: PageObservation;
  let tickLabels: string[] = [];
  let hoverText = "";

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), "dotattn-hostile-"));
    run = runReport(outDir, [join(ROOT, "test", "notebooks", "fixtures", "hostile-tokens.ipynb")]);
    const browser = await openBrowser();
    try {
      const page = join(outDir, "hostile-tokens.html");
      observation = await observeReport(browser.context, page);
      // Reopen to read labels and hover text from the drawn heatmap.
      const tab = await browser.context.newPage();
      await tab.route("**/*", (route) => (route.request().url().startsWith("file://") ? route.continue() : route.abort()));
      await tab.goto(`file://${page}`);
      await tab.waitForSelector(".js-plotly-plot .hm");
      tickLabels = await tab.$$eval(".js-plotly-plot .ytick text", (nodes) => nodes.map((node) => node.textContent ?? ""));
      // Move the mouse over the centre of the top-left cell: query 0, key 0.
      const box = (await tab.locator(".js-plotly-plot .nsewdrag").first().boundingBox())!;
      await tab.mouse.move(box.x + box.width / 6, box.y + box.height / 6);
      await tab.waitForSelector(".hoverlayer .hovertext");
      hoverText = (await tab.locator(".hoverlayer .hovertext").first().textContent()) ?? "";
    } finally {
      await browser.close();
    }
  });

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it("executes the fixture notebook", () => {
    expect(run.status, run.stderr).toBe(0);
    expect(run.summary[0].figures).toBe(3);
  });

  it("opens no dialog", () => {
    expect(observation.dialogs).toEqual([]);
  });

  it("runs no injected script", () => {
    expect(observation.injectedMarker).toBeUndefined();
    expect(observation.pageErrors).toEqual([]);
  });

  it("sends no request, not even for injected images", () => {
    expect(observation.blockedRequests).toEqual([]);
    expect(observation.plotlyFigures).toBe(3);
  });

  it("shows the token as text in tick labels", () => {
    expect(tickLabels).toContain("0: <img src=x oner…");
    expect(tickLabels).toContain("2: <b onmouseover=…");
  });

  it("shows query, key and weight on hover", () => {
    expect(hoverText).toContain("query 0: <img src=x oner…");
    expect(hoverText).toContain("key 0: <img src=x oner…");
    expect(hoverText).toContain("weight 1.0000");
  });
});
