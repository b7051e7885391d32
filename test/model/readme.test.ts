// Runs the README's model example as written against the built package.

import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

it("README model example prints tokens, attention shapes and embeddings", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const code = /```ts\n(import \{ loadMiniLM \}[\s\S]*?)```/.exec(readme)?.[1];
  expect(code, "README has a ```ts block importing loadMiniLM").toBeTruthy();

  const file = join(root, `.example-model-${process.pid}.mjs`);
  writeFileSync(file, code!);
  let lines: string[];
  try {
    lines = execFileSync(process.execPath, [file], { cwd: root, encoding: "utf8" })
      .trim()
      .split("\n");
  } finally {
    rmSync(file, { force: true });
  }

  expect(lines[0]).toBe("[CLS] the cat sat on the mat . [SEP]");
  expect(lines[1]).toBe("6 [ 1, 12, 9, 9 ]");
  expect(lines[2]).toBe("[ 1, 384 ]");
});
