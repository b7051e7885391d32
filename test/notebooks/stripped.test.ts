// The committed notebooks carry no outputs (diffable, and no stale results) and
// declare the tslab TypeScript kernel.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { ROOT } from "./report.js";

interface NotebookJson {
  metadata: { kernelspec?: { name?: string; display_name?: string; language?: string } };
  cells: { cell_type: string; source: string | string[]; outputs?: unknown[]; execution_count?: number | null }[];
}

const notebookDir = join(ROOT, "notebooks");
const notebooks = readdirSync(notebookDir).filter((name) => name.endsWith(".ipynb")).sort();

describe("committed notebooks", () => {
  it("include the four workbook notebooks", () => {
    for (const prefix of ["01-", "02-", "03-", "04-"]) {
      expect(notebooks.some((name) => name.startsWith(prefix)), `a notebook named ${prefix}*.ipynb`).toBe(true);
    }
  });

  describe.each(notebooks)("%s", (name) => {
    const notebook = JSON.parse(readFileSync(join(notebookDir, name), "utf8")) as NotebookJson;
    const codeCells = notebook.cells.filter((cell) => cell.cell_type === "code");

    it("has no outputs", () => {
      const withOutputs = notebook.cells
        .map((cell, index) => ({ index, count: cell.outputs?.length ?? 0 }))
        .filter((cell) => cell.count > 0)
        .map((cell) => `cell ${cell.index + 1}`);
      expect(withOutputs, "strip with: .venv/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb").toEqual([]);
    });

    it("has no execution counts", () => {
      expect(codeCells.filter((cell) => cell.execution_count != null)).toHaveLength(0);
    });

    it("declares the tslab kernel", () => {
      expect(notebook.metadata.kernelspec).toMatchObject({ name: "tslab", display_name: "TypeScript", language: "typescript" });
    });
  });
});
