// Runs the report pipeline (scripts/report.py, the part of `npm run report`
// after set-up and build) into a temporary directory and reads its results.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
export const PYTHON = join(ROOT, ".venv", "bin", "python");

/** One entry of the report's summary.json. */
export interface NotebookSummary {
  notebook: string;
  html: string;
  title: string;
  seconds: number;
  figures: number;
  codeCells: number;
  failedCell: number | null;
  error: string | null;
}

export interface ReportRun {
  status: number | null;
  stdout: string;
  stderr: string;
  summary: NotebookSummary[];
}

/** Reports whether the Python environment with the tslab kernel spec exists (scripts/setup.sh). */
export function workbookEnvironmentReady(): boolean {
  return existsSync(PYTHON) && existsSync(join(ROOT, ".venv", "share", "jupyter", "kernels", "tslab"));
}

/** Runs scripts/report.py with the given arguments; `notebooks` empty means every notebooks/*.ipynb. */
export function runReport(outDir: string, notebooks: string[] = []): ReportRun {
  const result = spawnSync(PYTHON, [join(ROOT, "scripts", "report.py"), "--out", outDir, ...notebooks], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 900_000,
  });
  const summaryPath = join(outDir, "summary.json");
  const summary = existsSync(summaryPath)
    ? (JSON.parse(readFileSync(summaryPath, "utf8")) as NotebookSummary[])
    : [];
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, summary };
}
