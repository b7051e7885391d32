// Emits MIME bundles through the tslab kernel that runs the current notebook.
//
// tslab's public `display` object sends one MIME type per output. A bundle with
// several representations goes through the function tslab's kernel keeps for
// the cell being executed (`lastWriteDisplayData` in tslab/dist/jupyter.js,
// tslab 1.0.22). This file never imports tslab: it looks the kernel's own copy
// up among the modules already loaded, so the package loads in plain Node.

import { createRequire } from "node:module";

/** A Jupyter MIME bundle: MIME type to data (a string, or an object for JSON types). */
export type MimeBundle = Record<string, unknown>;

type WriteDisplayData = (
  content: {
    data: MimeBundle;
    metadata: Record<string, unknown>;
    transient: Record<string, unknown>;
  },
  update: boolean,
) => void;

const TSLAB_JUPYTER_MODULE = /[\\/]tslab[\\/]dist[\\/]jupyter\.js$/;

/**
 * Returns the display writer of the tslab kernel running this process, or
 * undefined outside tslab (plain Node, tests).
 */
export function findTslabWriter(): WriteDisplayData | undefined {
  const require = createRequire(import.meta.url);
  for (const [path, loaded] of Object.entries(require.cache)) {
    if (!TSLAB_JUPYTER_MODULE.test(path)) continue;
    const writer = (loaded?.exports as { lastWriteDisplayData?: unknown } | undefined)
      ?.lastWriteDisplayData;
    if (typeof writer === "function") return writer as WriteDisplayData;
  }
  return undefined;
}

/**
 * Displays a MIME bundle as one output of the current notebook cell.
 *
 * Inside tslab the frontend picks the richest type it can render. Outside tslab
 * the bundle's `text/plain` is printed to stdout instead.
 *
 * @returns true when the bundle went to a tslab kernel, false when it was printed.
 * @throws TypeError when the bundle has no `text/plain` string.
 */
export function displayBundle(bundle: MimeBundle): boolean {
  if (typeof bundle !== "object" || bundle === null || typeof bundle["text/plain"] !== "string") {
    throw new TypeError(
      `displayBundle: bundle must be an object with a "text/plain" string, got ${bundle === null ? "null" : typeof bundle}`,
    );
  }
  const writer = findTslabWriter();
  if (writer === undefined) {
    console.log(bundle["text/plain"]);
    return false;
  }
  writer({ data: bundle, metadata: {}, transient: {} }, false);
  return true;
}
