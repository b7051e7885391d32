// End to end: the installed extension in a real JupyterLab (from .venv) and
// Debian's headless chromium. Opens the committed fixture notebooks, whose
// saved outputs hold attention payloads, and checks what the view draws and
// how it reacts, in the light and the dark theme. Screenshots go to
// $TMPDIR/dotattn-extension-e2e/ for a person to look at.

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ATTENTION_MIME_TYPE, validatePayload } from "../../jupyter-extension/src/payload.js";
import { parseCssColor, weightRgb, type Rgb } from "../../jupyter-extension/src/viewModel.js";
import { REPO_ROOT, VENV_BIN, startJupyterLab, type JupyterServer } from "./jupyter.js";

const FIXTURES = join(REPO_ROOT, "test", "extension", "fixtures");
const VALID_NOTEBOOK = "attention-valid.ipynb";
const MALFORMED_NOTEBOOK = "attention-malformed.ipynb";
const SCREENSHOT_DIR = join(tmpdir(), "dotattn-extension-e2e");

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The object payload of the valid fixture's first output, as the test expects it drawn. */
const validNotebook = JSON.parse(readFileSync(join(FIXTURES, VALID_NOTEBOOK), "utf8"));
const expected = validatePayload(validNotebook.cells[0].outputs[0].data[ATTENTION_MIME_TYPE]);

type Theme = "light" | "dark";
const THEME_NAMES: Record<Theme, string> = { light: "JupyterLab Light", dark: "JupyterLab Dark" };

let server: JupyterServer;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
const blockedRequests: string[] = [];
const pageErrors: string[] = [];

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex -- ANSI colour codes start with ESC
  return text.replace(/\u001b\[[0-9;]*m/g, "");
}

/** Runs `jupyter labextension list`, which prints its listing on stderr, and returns both streams. */
function labextensionList(): string {
  const result = spawnSync(join(VENV_BIN, "jupyter"), ["labextension", "list"], {
    encoding: "utf8",
  });
  if (result.status !== 0) {
    throw new Error(
      `jupyter labextension list failed with status ${result.status}:\n${result.stderr}`,
    );
  }
  return stripAnsi(`${result.stdout}\n${result.stderr}`);
}

/** Switches JupyterLab's theme with its own command and waits until <body> reports it. */
async function setTheme(theme: Theme): Promise<void> {
  await page.evaluate(async (name) => {
    const app = (
      window as unknown as {
        jupyterapp: { commands: { execute: (id: string, args: object) => Promise<unknown> } };
      }
    ).jupyterapp;
    await app.commands.execute("apputils:change-theme", { theme: name });
  }, THEME_NAMES[theme]);
  // <body> counts as hidden for Playwright (its children are positioned), so wait for it attached.
  await page.waitForSelector(`body[data-jp-theme-light="${theme === "light"}"]`, {
    state: "attached",
  });
}

/** Returns the notebook panel on display. JupyterLab keeps earlier tabs in the page, hidden. */
function notebook(): Locator {
  return page.locator(".jp-NotebookPanel:visible");
}

/** Opens a notebook from the server's root and waits for its outputs to render. */
async function openNotebook(name: string, outputSelector: string): Promise<void> {
  await page.goto(`${server.baseUrl}/lab/tree/${name}?token=${server.token}`);
  await page.waitForSelector(outputSelector);
}

/** Reads the colour of one canvas pixel, given in CSS pixels from the canvas' top-left corner. */
async function pixelAt(canvas: Locator, x: number, y: number): Promise<Rgb> {
  return canvas.evaluate(
    (node, point) => {
      const element = node as HTMLCanvasElement;
      const ratio = element.width / element.getBoundingClientRect().width;
      const context = element.getContext("2d") as CanvasRenderingContext2D;
      const [r, g, b] = context.getImageData(
        Math.floor(point.x * ratio),
        Math.floor(point.y * ratio),
        1,
        1,
      ).data;
      return { r, g, b };
    },
    { x, y },
  );
}

function expectColorNear(actual: Rgb, wanted: Rgb, what: string): void {
  const distance = Math.max(
    Math.abs(actual.r - wanted.r),
    Math.abs(actual.g - wanted.g),
    Math.abs(actual.b - wanted.b),
  );
  expect(
    distance,
    `${what}: drew ${JSON.stringify(actual)}, expected ${JSON.stringify(wanted)} within 2 per channel`,
  ).toBeLessThanOrEqual(2);
}

async function readRamp(view: Locator): Promise<{ low: Rgb; high: Rgb }> {
  const low = parseCssColor((await view.getAttribute("data-color-low")) ?? "");
  const high = parseCssColor((await view.getAttribute("data-color-high")) ?? "");
  expect(low, "data-color-low is a colour").not.toBeNull();
  expect(high, "data-color-high is a colour").not.toBeNull();
  return { low: low as Rgb, high: high as Rgb };
}

function luminance(color: Rgb): number {
  return (0.2126 * color.r + 0.7152 * color.g + 0.0722 * color.b) / 255;
}

/** Hovers cell (query, key) and returns the weight that the hover text reports. */
async function hoverCell(
  view: Locator,
  cellSize: number,
  query: number,
  key: number,
): Promise<{ weight: number; text: string }> {
  const canvas = view.locator("canvas.jp-DotattnView-canvas");
  // Hover cell (0, 0) first, so that the hover text of the wanted cell is written anew.
  await canvas.hover({ position: { x: 0.5 * cellSize, y: 0.5 * cellSize } });
  await view.locator('.jp-DotattnView-readout[data-query="0"][data-key="0"]').waitFor();
  await canvas.hover({ position: { x: (key + 0.5) * cellSize, y: (query + 0.5) * cellSize } });
  const readout = view.locator(`.jp-DotattnView-readout[data-query="${query}"][data-key="${key}"]`);
  await readout.waitFor();
  return {
    weight: Number(await readout.getAttribute("data-weight")),
    text: (await readout.textContent()) ?? "",
  };
}

/** Runs every check of the valid object payload in the current theme. */
async function checkValidView(theme: Theme): Promise<void> {
  const view = notebook().locator(".jp-DotattnView").first();
  const canvas = view.locator("canvas.jp-DotattnView-canvas");
  await canvas.waitFor();
  await view.scrollIntoViewIfNeeded();

  // Labels are the tokens as text; the markup token made no element.
  expect(await view.locator(".jp-DotattnView-keyLabel").allTextContents()).toEqual(
    expected.keyTokens,
  );
  expect(await view.locator(".jp-DotattnView-queryLabel").allTextContents()).toEqual(
    expected.queryTokens,
  );
  expect(await view.locator(".jp-DotattnView-label b").count()).toBe(0);
  expect(await view.locator(".jp-DotattnView-title").textContent()).toBe(expected.title);

  // Selectors list the layers and the heads of the shown layer.
  await view.locator("select.jp-DotattnView-layer").selectOption("0");
  await view.locator("select.jp-DotattnView-head").selectOption("0");
  await view.locator('xpath=self::*[@data-layer="0"][@data-head="0"]').waitFor();
  expect(await view.locator("select.jp-DotattnView-layer option").allTextContents()).toEqual(
    expected.layers.map((layer) => layer.label),
  );
  expect(await view.locator("select.jp-DotattnView-head option").allTextContents()).toEqual(
    expected.layers[0].heads.map((head) => head.label),
  );

  // Theme colours: the zero end of the scale follows the page background.
  const ramp = await readRamp(view);
  if (theme === "light") {
    expect(luminance(ramp.low), "light theme: weight 0 colour is light").toBeGreaterThan(0.8);
  } else {
    expect(luminance(ramp.low), "dark theme: weight 0 colour is dark").toBeLessThan(0.2);
  }

  const keyCount = expected.keyTokens.length;
  const box = await canvas.boundingBox();
  expect(box).not.toBeNull();
  const cellSize = (box as { width: number }).width / keyCount;

  // Hover values and drawn colours for head 0, then head 1 of layer 0.
  const [query, key] = [2, 1];
  const head0 = expected.layers[0].heads[0].weights;
  const head1 = expected.layers[0].heads[1].weights;
  expect(head0[query][key], "the fixture heads differ at the probed cell").not.toBe(
    head1[query][key],
  );

  const hover0 = await hoverCell(view, cellSize, query, key);
  expect(hover0.weight).toBe(head0[query][key]);
  expect(hover0.text).toBe(
    `query ${query} ${JSON.stringify(expected.queryTokens[query])} → key ${key} ${JSON.stringify(expected.keyTokens[key])}: ${head0[query][key].toFixed(4)}`,
  );
  // Sample near the cell's corner: away from the hover outline and the printed value.
  const corner = { x: key * cellSize + 5, y: query * cellSize + 5 };
  expectColorNear(
    await pixelAt(canvas, corner.x, corner.y),
    weightRgb(head0[query][key], ramp),
    `${theme}, head 0, cell (${query}, ${key})`,
  );

  await view.locator("select.jp-DotattnView-head").selectOption("1");
  await view.locator('xpath=self::*[@data-head="1"]').waitFor();
  const hover1 = await hoverCell(view, cellSize, query, key);
  expect(hover1.weight).toBe(head1[query][key]);
  expect(hover1.weight).not.toBe(hover0.weight);
  expectColorNear(
    await pixelAt(canvas, corner.x, corner.y),
    weightRgb(head1[query][key], ramp),
    `${theme}, head 1, cell (${query}, ${key})`,
  );

  // Clicking query token 2 highlights its row and, as the tokens are shared, its column.
  await view.locator(".jp-DotattnView-queryLabel").nth(query).click();
  await view
    .locator(`xpath=self::*[@data-selected-row="${query}"][@data-selected-column="${query}"]`)
    .waitFor();
  const selectedIndices = async (selector: string): Promise<string[]> =>
    view
      .locator(`${selector}.jp-mod-selected`)
      .evaluateAll((nodes) => nodes.map((node) => node.getAttribute("data-index") ?? ""));
  expect(await selectedIndices(".jp-DotattnView-queryLabel")).toEqual([String(query)]);
  expect(await selectedIndices(".jp-DotattnView-keyLabel")).toEqual([String(query)]);

  // The summary lists the row's largest weight and the column's largest weight first.
  const row = head1[query];
  const bestKey = row.indexOf(Math.max(...row));
  const column = head1.map((r) => r[query]);
  const bestQuery = column.indexOf(Math.max(...column));
  const firstItems = await view
    .locator(".jp-DotattnView-summaryList li:first-child")
    .allTextContents();
  expect(firstItems).toEqual([
    `key ${bestKey} ${JSON.stringify(expected.keyTokens[bestKey])}: ${row[bestKey].toFixed(4)}`,
    `query ${bestQuery} ${JSON.stringify(expected.queryTokens[bestQuery])}: ${column[bestQuery].toFixed(4)}`,
  ]);

  // Cells in the row keep their colour; cells outside the row and column are veiled towards weight 0.
  const inRow = { query, key: 0 };
  const outside = { query: 0, key: 4 };
  expectColorNear(
    await pixelAt(canvas, inRow.key * cellSize + 5, inRow.query * cellSize + 5),
    weightRgb(head1[inRow.query][inRow.key], ramp),
    `${theme}, highlighted cell (${inRow.query}, ${inRow.key})`,
  );
  const veiled = await pixelAt(canvas, outside.key * cellSize + 5, outside.query * cellSize + 5);
  const unveiled = weightRgb(head1[outside.query][outside.key], ramp);
  const veiledExpected = {
    r: Math.round(0.4 * unveiled.r + 0.6 * ramp.low.r),
    g: Math.round(0.4 * unveiled.g + 0.6 * ramp.low.g),
    b: Math.round(0.4 * unveiled.b + 0.6 * ramp.low.b),
  };
  expectColorNear(
    veiled,
    veiledExpected,
    `${theme}, veiled cell (${outside.query}, ${outside.key})`,
  );

  await view.screenshot({ path: join(SCREENSHOT_DIR, `valid-${theme}.png`) });

  // A second click on the same token clears the highlight.
  await view.locator(".jp-DotattnView-queryLabel").nth(query).click();
  await view.locator('xpath=self::*[@data-selected-row=""][@data-selected-column=""]').waitFor();
  expect(await view.locator(".jp-mod-selected").count()).toBe(0);

  // The JSON-text output draws too, and its hostile token stays text.
  const textView = notebook().locator(".jp-DotattnView").nth(1);
  await textView.locator("canvas.jp-DotattnView-canvas").waitFor();
  expect(await textView.locator(".jp-DotattnView-keyLabel").nth(2).textContent()).toBe(
    '<img src=x onerror="window.__dotattnInjected=1">',
  );
  expect(await notebook().locator(".jp-DotattnView img").count()).toBe(0);
  expect(
    await page.evaluate(
      () => (window as unknown as { __dotattnInjected?: unknown }).__dotattnInjected,
    ),
  ).toBeUndefined();

  // L = 0 shows that there is nothing to draw.
  const empty = notebook().locator(".jp-DotattnView-empty");
  await empty.waitFor();
  expect(await empty.textContent()).toContain(
    "Nothing to draw: the payload has 0 query tokens and 2 key tokens",
  );
}

/** Replaces the first cell's output with `data` through JupyterLab's output model, as a display update does. */
async function setFirstOutput(data: unknown): Promise<void> {
  await page.evaluate(
    ({ mime, payload }) => {
      type OutputModel = { set: (index: number, output: object) => void };
      const app = (
        window as unknown as {
          jupyterapp: {
            shell: {
              currentWidget: { content: { widgets: { model: { outputs: OutputModel } }[] } };
            };
          };
        }
      ).jupyterapp;
      const outputs = app.shell.currentWidget.content.widgets[0].model.outputs;
      outputs.set(0, { output_type: "display_data", data: { [mime]: payload }, metadata: {} });
    },
    { mime: ATTENTION_MIME_TYPE, payload: data },
  );
}

/** Re-renders the first output with new data: the previous view goes, one view or message remains. */
async function checkRerender(): Promise<void> {
  const output = notebook().locator(".jp-Cell").first().locator(".jp-DotattnRenderer");
  // Mark the renderer node: JupyterLab keeps the renderer for an update of the same MIME type
  // and calls its renderModel again, which must dispose the view it drew before.
  await output.evaluate((node) => node.setAttribute("data-test-marker", "kept"));
  const renamed = { ...expected, title: "Re-rendered payload" };
  await setFirstOutput(renamed);
  await output.locator('.jp-DotattnView-title:text-is("Re-rendered payload")').waitFor();
  expect(await output.locator(".jp-DotattnView").count()).toBe(1);

  await setFirstOutput({ ...expected, version: 3 });
  await output.locator('.jp-DotattnView-error[data-field="version"]').waitFor();
  expect(await output.locator(".jp-DotattnView").count()).toBe(0);
  expect(await output.locator(".jp-DotattnView-error").count()).toBe(1);

  await setFirstOutput(expected);
  await output.locator("canvas.jp-DotattnView-canvas").waitFor();
  expect(
    await output.getAttribute("data-test-marker"),
    "the same renderer drew all three payloads",
  ).toBe("kept");
  expect(await output.locator(".jp-DotattnView-error").count()).toBe(0);
  expect(await output.locator(".jp-DotattnView-title").textContent()).toBe(expected.title);
}

/** Draws a [512, 512] payload, the largest allowed side, into the first output and reads one cell back. */
async function checkLargePayload(): Promise<void> {
  const side = 512;
  const tokens = Array.from({ length: side }, (_, index) => `token${index}`);
  const weights = tokens.map((_, i) => tokens.map((_, j) => ((7 * i + 13 * j) % 100) / 100));
  await setFirstOutput({
    version: 1,
    title: "512 x 512",
    queryTokens: tokens,
    keyTokens: tokens,
    layers: [{ heads: [{ weights }] }],
  });
  const view = notebook().locator(".jp-Cell").first().locator(".jp-DotattnView");
  await view.locator('.jp-DotattnView-title:text-is("512 x 512")').waitFor();
  const canvas = view.locator("canvas.jp-DotattnView-canvas");
  const box = await canvas.boundingBox();
  const cellSize = (box as { width: number }).width / side;
  expect(cellSize).toBe(3);
  // Cells of 3 px leave no room for labels, so they are hidden and the hover text names the tokens.
  expect(
    await view
      .locator(".jp-DotattnView-keyLabel")
      .first()
      .evaluate((node) => getComputedStyle(node).visibility),
  ).toBe("hidden");
  const [query, key] = [50, 60];
  const hover = await hoverCell(view, cellSize, query, key);
  expect(hover.weight).toBe(weights[query][key]);
  expect(hover.text).toBe(
    `query ${query} "token${query}" → key ${key} "token${key}": ${weights[query][key].toFixed(4)}`,
  );
  await view.screenshot({ path: join(SCREENSHOT_DIR, "large-512.png") });
}

/** The malformed fixture's outputs in order: failing field and a part of the message. */
const MALFORMED_CASES = [
  {
    field: "layers[0].heads[1].weights[3]",
    detail: "expected 5 numbers (one per key token), got 4",
  },
  { field: "version", detail: "expected 1, got 2 (this extension reads schema version 1 only)" },
  {
    field: "layers[1].heads[0].weights[2][4]",
    detail: "expected a finite number in [0, 1], got 1.5",
  },
  { field: "keyTokens[1]", detail: "expected a string, got number 7" },
  { field: "queryTokens", detail: "expected at most 512 tokens, got 600" },
];

async function checkMalformed(theme: Theme): Promise<void> {
  const errors = notebook().locator(".jp-DotattnView-error");
  await errors.nth(MALFORMED_CASES.length - 1).waitFor();
  expect(await errors.count()).toBe(MALFORMED_CASES.length);
  for (const [index, wanted] of MALFORMED_CASES.entries()) {
    const box = errors.nth(index);
    expect(await box.getAttribute("data-field")).toBe(wanted.field);
    expect(await box.locator(".jp-DotattnView-errorField code").textContent()).toBe(wanted.field);
    expect(await box.locator(".jp-DotattnView-errorDetail").textContent()).toBe(
      `validatePayload: ${wanted.field}: ${wanted.detail}`,
    );
  }
  // Styled with the theme's error colour, not left unstyled.
  const colors = await errors.first().evaluate((node) => {
    const probe = document.createElement("span");
    probe.style.color = "var(--jp-error-color1)";
    node.appendChild(probe);
    const errorColor = getComputedStyle(probe).color;
    probe.remove();
    return { border: getComputedStyle(node).borderLeftColor, errorColor };
  });
  expect(colors.border).toBe(colors.errorColor);
  expect(await notebook().locator(".jp-DotattnView canvas").count()).toBe(0);
  await errors.first().scrollIntoViewIfNeeded();
  await errors.first().screenshot({ path: join(SCREENSHOT_DIR, `malformed-${theme}.png`) });
}

describe("extension in JupyterLab and chromium", () => {
  beforeAll(async () => {
    // The browser test means nothing unless JupyterLab lists the extension as enabled.
    const listing = labextensionList();
    if (!/dotattn-jupyter v\d+\.\d+\.\d+ enabled\s+OK/.test(listing)) {
      throw new Error(
        `jupyter labextension list does not show dotattn-jupyter as enabled and OK; run bash scripts/setup.sh. It printed:\n${listing}`,
      );
    }

    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    server = await startJupyterLab([
      join(FIXTURES, VALID_NOTEBOOK),
      join(FIXTURES, MALFORMED_NOTEBOOK),
    ]);
    userDataDir = mkdtempSync(join(tmpdir(), "dotattn-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: "/usr/bin/chromium",
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1280, height: 1000 },
    });
    const allowedOrigin = new URL(server.baseUrl).origin;
    await context.route("**/*", async (route) => {
      const url = route.request().url();
      if (
        url.startsWith("data:") ||
        url.startsWith("blob:") ||
        new URL(url).origin === allowedOrigin
      ) {
        await route.continue();
      } else {
        blockedRequests.push(url);
        await route.abort();
      }
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => pageErrors.push(String(error)));
  });

  afterAll(async () => {
    await context?.close();
    if (userDataDir !== undefined) {
      rmSync(userDataDir, { recursive: true, force: true });
    }
    await server?.stop();
  });

  it("labextension list shows it enabled", () => {
    const listing = labextensionList();
    expect(listing).toMatch(/dotattn-jupyter v0\.1\.0 enabled\s+OK \(python, dotattn_jupyter\)/);
  });

  it("valid payload renders and reacts in light and dark", async () => {
    await openNotebook(VALID_NOTEBOOK, ".jp-DotattnView canvas");
    await setTheme("light");
    await checkValidView("light");
    await setTheme("dark");
    // The view reads the theme colours again after the switch.
    await page.waitForSelector(
      '.jp-DotattnView[data-color-low]:not([data-color-low="rgb(255, 255, 255)"])',
    );
    await checkValidView("dark");
    await checkRerender();
    await checkLargePayload();
  });

  it("malformed payloads show the message in dark and light", async () => {
    await openNotebook(MALFORMED_NOTEBOOK, ".jp-DotattnView-error");
    await setTheme("dark");
    await checkMalformed("dark");
    await setTheme("light");
    await checkMalformed("light");
  });

  it("page threw no errors", () => {
    expect(pageErrors).toEqual([]);
    // Blocked requests are listed, not failed: JupyterLab may try hosts it does not need.
    if (blockedRequests.length > 0) {
      console.log(`Blocked requests to other hosts:\n${blockedRequests.join("\n")}`);
    }
  });
});
