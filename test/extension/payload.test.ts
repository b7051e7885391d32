import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import {
  ATTENTION_MIME_TYPE,
  MAX_TOKENS,
  MAX_WEIGHTS,
  PayloadRangeError,
  PayloadTypeError,
  describeValue,
  validatePayload,
} from "../../jupyter-extension/src/payload.js";

type Json = Record<string, unknown>;

/** Returns a valid 3 x 2 payload with 1 layer of 2 heads. */
function validPayload(): Json {
  return {
    version: 1,
    title: "t",
    caption: "c",
    queryTokens: ["a", "b", "c"],
    keyTokens: ["x", "y"],
    layers: [
      {
        label: "layer 0",
        heads: [
          {
            label: "head 0",
            weights: [
              [1, 0],
              [0.5, 0.5],
              [0.25, 0.75],
            ],
          },
          {
            label: "head 1",
            weights: [
              [0, 1],
              [1, 0],
              [0.5, 0.5],
            ],
          },
        ],
      },
    ],
  };
}

/** Returns a valid payload changed by `edit`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- edits store wrong kinds of values on purpose
function edited(edit: (payload: any) => void): Json {
  const payload = validPayload();
  edit(payload);
  return payload;
}

/** Asserts that validation throws `kind` naming `field`, with `detail` in the message. */
function expectRejected(
  data: unknown,
  kind: typeof PayloadTypeError | typeof PayloadRangeError,
  field: string,
  detail: string | RegExp,
): void {
  let caught: unknown;
  try {
    validatePayload(data);
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected validatePayload to throw for ${field}`).toBeInstanceOf(kind);
  const error = caught as PayloadTypeError | PayloadRangeError;
  expect(error).toBeInstanceOf(kind === PayloadTypeError ? TypeError : RangeError);
  expect(error.field).toBe(field);
  expect(error.message.startsWith(`validatePayload: ${field}: `)).toBe(true);
  if (typeof detail === "string") {
    expect(error.message).toContain(detail);
  } else {
    expect(error.message).toMatch(detail);
  }
}

describe("validatePayload accepts", () => {
  it("a valid payload unchanged", () => {
    const data = validPayload();
    const payload = validatePayload(data);
    expect(payload.version).toBe(1);
    expect(payload.title).toBe("t");
    expect(payload.caption).toBe("c");
    expect(payload.queryTokens).toEqual(["a", "b", "c"]);
    expect(payload.keyTokens).toEqual(["x", "y"]);
    expect(payload.layers[0].heads[1].weights).toEqual([
      [0, 1],
      [1, 0],
      [0.5, 0.5],
    ]);
  });

  it("missing labels as defaults", () => {
    const payload = validatePayload(
      edited((p) => {
        delete p.layers[0].label;
        delete p.layers[0].heads[0].label;
        delete p.layers[0].heads[1].label;
        delete p.title;
        delete p.caption;
      }),
    );
    expect(payload.layers[0].label).toBe("layer 0");
    expect(payload.layers[0].heads.map((head) => head.label)).toEqual(["head 0", "head 1"]);
    expect("title" in payload).toBe(false);
    expect("caption" in payload).toBe(false);
  });

  it("JSON text of a payload", () => {
    const payload = validatePayload(JSON.stringify(validPayload()));
    expect(payload.layers[0].heads[0].weights[2]).toEqual([0.25, 0.75]);
  });

  it("fields the schema does not name", () => {
    const payload = validatePayload(edited((p) => (p.extra = { anything: true })));
    expect(payload.queryTokens.length).toBe(3);
  });

  it("empty token lists with empty matrices", () => {
    const noQueries = validatePayload({
      version: 1,
      queryTokens: [],
      keyTokens: ["x"],
      layers: [{ heads: [{ weights: [] }] }],
    });
    expect(noQueries.layers[0].heads[0].weights).toEqual([]);
    const noKeys = validatePayload({
      version: 1,
      queryTokens: ["a", "b"],
      keyTokens: [],
      layers: [{ heads: [{ weights: [[], []] }] }],
    });
    expect(noKeys.layers[0].heads[0].weights).toEqual([[], []]);
  });

  it("tokens that look like markup, as text", () => {
    const markup = '<img src=x onerror="alert(1)">';
    const payload = validatePayload(edited((p) => (p.queryTokens[0] = markup)));
    expect(payload.queryTokens[0]).toBe(markup);
  });

  it("exactly the maximum weight count", () => {
    // 8 heads of [500, 500] hold 2,000,000 weights. Rows are shared to save memory.
    const side = 500;
    const row = new Array<number>(side).fill(0.002);
    const weights = new Array<number[]>(side).fill(row);
    const tokens = new Array<string>(side).fill("t");
    const heads = Array.from({ length: 8 }, () => ({ weights }));
    expect(8 * side * side).toBe(MAX_WEIGHTS);
    const payload = validatePayload({
      version: 1,
      queryTokens: tokens,
      keyTokens: tokens,
      layers: [{ heads }],
    });
    expect(payload.layers[0].heads.length).toBe(8);
  });

  it("the committed valid fixture with 2 heads per layer", () => {
    const notebook = JSON.parse(
      readFileSync(new URL("fixtures/attention-valid.ipynb", import.meta.url), "utf8"),
    );
    const data = notebook.cells[0].outputs[0].data[ATTENTION_MIME_TYPE];
    const payload = validatePayload(data);
    expect(payload.layers.map((layer) => layer.heads.length)).toEqual([2, 2]);
    expect(payload.keyTokens[2]).toBe("<b>cat</b>");
  });
});

describe("validatePayload rejects", () => {
  it("data that is not an object", () => {
    expectRejected(null, PayloadTypeError, "payload", "expected an object, got null");
    expectRejected([], PayloadTypeError, "payload", "got array of 0 items");
    expectRejected(42, PayloadTypeError, "payload", "got number 42");
    expectRejected(undefined, PayloadTypeError, "payload", "got nothing");
    expectRejected('"text"', PayloadTypeError, "payload", 'got string "text"');
  });

  it("text that is not JSON", () => {
    expectRejected("{version: 1", PayloadRangeError, "payload", "does not parse");
  });

  it("a missing or wrong version", () => {
    expectRejected(
      edited((p) => delete p.version),
      PayloadTypeError,
      "version",
      "expected the number 1, got nothing (the field is missing)",
    );
    expectRejected(
      edited((p) => (p.version = "1")),
      PayloadTypeError,
      "version",
      'got string "1"',
    );
    expectRejected(
      edited((p) => (p.version = 2)),
      PayloadRangeError,
      "version",
      "expected 1, got 2",
    );
    expectRejected(
      edited((p) => (p.version = 0)),
      PayloadRangeError,
      "version",
      "expected 1, got 0",
    );
  });

  it("a title or caption that is not a string", () => {
    expectRejected(
      edited((p) => (p.title = 5)),
      PayloadTypeError,
      "title",
      "got number 5",
    );
    expectRejected(
      edited((p) => (p.caption = null)),
      PayloadTypeError,
      "caption",
      "got null",
    );
  });

  it("missing token lists", () => {
    expectRejected(
      edited((p) => delete p.queryTokens),
      PayloadTypeError,
      "queryTokens",
      "expected an array of strings, got nothing",
    );
    expectRejected(
      edited((p) => (p.keyTokens = "x y")),
      PayloadTypeError,
      "keyTokens",
      'got string "x y"',
    );
  });

  it("tokens that are not strings", () => {
    expectRejected(
      edited((p) => (p.queryTokens[1] = 7)),
      PayloadTypeError,
      "queryTokens[1]",
      "expected a string, got number 7",
    );
    expectRejected(
      edited((p) => (p.keyTokens[0] = null)),
      PayloadTypeError,
      "keyTokens[0]",
      "got null",
    );
    expectRejected(
      edited((p) => (p.keyTokens[1] = ["y"])),
      PayloadTypeError,
      "keyTokens[1]",
      "got array of 1 item",
    );
  });

  it("more than the maximum tokens", () => {
    const tooMany = new Array<string>(MAX_TOKENS + 1).fill("t");
    expectRejected(
      edited((p) => (p.queryTokens = tooMany)),
      PayloadRangeError,
      "queryTokens",
      "expected at most 512 tokens, got 513",
    );
    expectRejected(
      edited((p) => (p.keyTokens = tooMany)),
      PayloadRangeError,
      "keyTokens",
      "expected at most 512 tokens, got 513",
    );
  });

  it("missing or empty layers", () => {
    expectRejected(
      edited((p) => delete p.layers),
      PayloadTypeError,
      "layers",
      "expected an array of layers, got nothing",
    );
    expectRejected(
      edited((p) => (p.layers = [])),
      PayloadRangeError,
      "layers",
      "expected at least 1 layer, got 0",
    );
    expectRejected(
      edited((p) => p.layers.push("layer 1")),
      PayloadTypeError,
      "layers[1]",
      'expected an object with heads, got string "layer 1"',
    );
    expectRejected(
      edited((p) => (p.layers[0].label = 0)),
      PayloadTypeError,
      "layers[0].label",
      "got number 0",
    );
  });

  it("missing or empty heads", () => {
    expectRejected(
      edited((p) => delete p.layers[0].heads),
      PayloadTypeError,
      "layers[0].heads",
      "expected an array of heads, got nothing",
    );
    expectRejected(
      edited((p) => (p.layers[0].heads = [])),
      PayloadRangeError,
      "layers[0].heads",
      "expected at least 1 head, got 0",
    );
    expectRejected(
      edited((p) => (p.layers[0].heads[1] = [[1, 0]])),
      PayloadTypeError,
      "layers[0].heads[1]",
      "expected an object with weights, got array of 1 item",
    );
    expectRejected(
      edited((p) => (p.layers[0].heads[0].label = true)),
      PayloadTypeError,
      "layers[0].heads[0].label",
      "got boolean true",
    );
  });

  it("missing weights", () => {
    expectRejected(
      edited((p) => delete p.layers[0].heads[1].weights),
      PayloadTypeError,
      "layers[0].heads[1].weights",
      "expected an array of 3 rows, got nothing",
    );
  });

  it("a wrong number of rows", () => {
    expectRejected(
      edited((p) => p.layers[0].heads[1].weights.pop()),
      PayloadRangeError,
      "layers[0].heads[1].weights",
      "expected 3 rows (one per query token), got 2",
    );
  });

  it("ragged rows", () => {
    expectRejected(
      edited((p) => p.layers[0].heads[1].weights[2].pop()),
      PayloadRangeError,
      "layers[0].heads[1].weights[2]",
      "expected 2 numbers (one per key token), got 1",
    );
    expectRejected(
      edited((p) => p.layers[0].heads[0].weights[0].push(0)),
      PayloadRangeError,
      "layers[0].heads[0].weights[0]",
      "expected 2 numbers (one per key token), got 3",
    );
    expectRejected(
      edited((p) => (p.layers[0].heads[0].weights[1] = 0.5)),
      PayloadTypeError,
      "layers[0].heads[0].weights[1]",
      "expected an array of 2 numbers, got number 0.5",
    );
  });

  it("weights that are not numbers", () => {
    expectRejected(
      edited((p) => (p.layers[0].heads[0].weights[1][0] = "0.5")),
      PayloadTypeError,
      "layers[0].heads[0].weights[1][0]",
      'expected a number in [0, 1], got string "0.5"',
    );
    // JSON.stringify turns NaN into null.
    expectRejected(
      JSON.stringify(edited((p) => (p.layers[0].heads[1].weights[2][1] = NaN))),
      PayloadTypeError,
      "layers[0].heads[1].weights[2][1]",
      "got null",
    );
  });

  it("NaN and infinite weights", () => {
    expectRejected(
      edited((p) => (p.layers[0].heads[0].weights[0][1] = NaN)),
      PayloadRangeError,
      "layers[0].heads[0].weights[0][1]",
      "expected a finite number in [0, 1], got NaN",
    );
    expectRejected(
      edited((p) => (p.layers[0].heads[0].weights[0][0] = Infinity)),
      PayloadRangeError,
      "layers[0].heads[0].weights[0][0]",
      "got Infinity",
    );
  });

  it("weights outside [0, 1]", () => {
    expectRejected(
      edited((p) => (p.layers[0].heads[1].weights[1][1] = -0.01)),
      PayloadRangeError,
      "layers[0].heads[1].weights[1][1]",
      "expected a finite number in [0, 1], got -0.01",
    );
    expectRejected(
      edited((p) => (p.layers[0].heads[1].weights[2][0] = 1.0000001)),
      PayloadRangeError,
      "layers[0].heads[1].weights[2][0]",
      "got 1.0000001",
    );
  });

  it("more than the maximum weight count", () => {
    // 8 heads of [512, 512] hold 2,097,152 weights; the shapes alone reject it.
    const tokens = new Array<string>(MAX_TOKENS).fill("t");
    const heads = Array.from({ length: 8 }, () => ({ weights: [] }));
    expectRejected(
      { version: 1, queryTokens: tokens, keyTokens: tokens, layers: [{ heads }] },
      PayloadRangeError,
      "layers",
      "expected at most 2,000,000 weights in all, got 8 heads of [512, 512] = 2,097,152",
    );
  });

  it("the first failing field in document order", () => {
    const payload = edited((p) => {
      p.layers[0].heads[0].weights[2][1] = 2;
      p.layers[0].heads[1].weights[0][0] = "x";
    });
    expectRejected(payload, PayloadRangeError, "layers[0].heads[0].weights[2][1]", "got 2");
  });
});

describe("describeValue", () => {
  it("names kinds and previews values", () => {
    expect(describeValue(null)).toBe("null");
    expect(describeValue(undefined)).toBe("nothing (the field is missing)");
    expect(describeValue([1, 2])).toBe("array of 2 items");
    expect(describeValue(1.5)).toBe("number 1.5");
    expect(describeValue(false)).toBe("boolean false");
    expect(describeValue({ a: 1 })).toBe("object");
    expect(describeValue("x".repeat(50))).toBe(`string "${"x".repeat(40)}..."`);
  });
});
