// Runs the README's TypeScript example and every @example block in the
// TSDoc of src/, as written, against the built package (npm test builds it
// first), so the documentation cannot drift from the code.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const ENTRIES: [string, string][] = [
  ["dotattn", "dist/index.js"],
  ["dotattn/display", "dist/display/index.js"],
  ["dotattn/model", "dist/model/index.js"],
];

/** Imports every export of the built entry points by name, as an example's reader would. */
async function examplePrelude(): Promise<string> {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const [specifier, file] of ENTRIES) {
    if (!existsSync(join(root, file))) continue;
    const names = Object.keys(await import(join(root, file))).filter((n) => !seen.has(n));
    names.forEach((n) => seen.add(n));
    if (names.length > 0) lines.push(`import { ${names.join(", ")} } from "${specifier}";`);
  }
  return lines.join("\n") + "\n";
}
const built = existsSync(join(root, "dist", "index.js"));

/** Runs JavaScript source as an ES module inside the package, so `import "dotattn"` resolves to it. */
function runModule(source: string, name: string): string {
  const file = join(root, `.example-${name}-${process.pid}.mjs`);
  writeFileSync(file, source);
  try {
    return execFileSync(process.execPath, [file], { cwd: root, encoding: "utf8" });
  } finally {
    rmSync(file, { force: true });
  }
}

describe.runIf(built)("documentation examples", () => {
  it("the README example runs and prints what it says", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = readme.split("## Example")[1];
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code, "README has a ```ts block under ## Example").toBeTruthy();
    const lines = runModule(code!, "readme").trim().split("\n");
    expect(lines[0]).toBe("[ 2, 4, 3 ] [ 2, 4, 6 ]");
    expect(Number(lines[1])).toBeLessThan(1e-12);
  });

  const sources = readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join("src", f));
  const examples: [string, string][] = [];
  for (const file of sources) {
    const text = readFileSync(join(root, file), "utf8");
    for (const match of text.matchAll(/@example\n((?:\s*\*(?! @|\/).*\n)+)/g)) {
      const body = match[1]
        .split("\n")
        .map((line) => line.replace(/^\s*\* ?/, ""))
        .join("\n");
      examples.push([`${file} #${examples.length}`, body]);
    }
  }

  it("src has @example blocks to run", () => {
    expect(examples.length).toBeGreaterThan(5);
  });

  let preludeText = "";
  beforeAll(async () => {
    preludeText = await examplePrelude();
  });

  it.each(examples)("%s runs", (_name, body) => {
    // Examples are TypeScript: strip the types. One without its own imports
    // gets every export of the package by name.
    const prelude = /^import /m.test(body) ? "" : preludeText;
    const js = ts.transpileModule(prelude + body, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    expect(() => runModule(js, "tsdoc")).not.toThrow();
  });
});
