// The display helpers and the JupyterLab extension each validate the
// attention payload (the extension cannot import the package). This test keeps
// the two in line: everything the helpers emit passes the extension's
// validator, and both validators reject the same malformed payloads.

import { describe, expect, it } from "vitest";
import { validatePayload } from "../../jupyter-extension/src/payload.js";
import {
  ATTENTION_MIME_TYPE,
  attentionHeatmapBundle,
  validateAttentionPayload,
} from "../../src/display/index.js";
import { randn, scaledDotProductAttention } from "../../src/index.js";

function emittedPayload(bundle: Record<string, unknown>): unknown {
  return bundle[ATTENTION_MIME_TYPE];
}

describe("payloads the display helpers emit", () => {
  const Q = randn([2, 5, 4], { seed: 1 });
  const { weights } = scaledDotProductAttention(Q, Q, Q, null, { isCausal: true });

  it.each([
    ["one head", (weights.toArray() as number[][][])[0], {}],
    [
      "two heads with tokens",
      weights,
      { queryTokens: ["a", "b", "c", "d", "e"], keyTokens: ["a", "b", "c", "d", "e"] },
    ],
    [
      "layers and heads",
      [weights.toArray(), weights.toArray()],
      { layerLabels: ["first", "second"], title: "t" },
    ],
    [
      "hostile tokens",
      (weights.toArray() as number[][][])[0],
      { queryTokens: ["<img src=x onerror=alert(1)>", "&", '"', "'", "</script>"] },
    ],
  ] as const)("%s passes the extension's validator", (_, data, options) => {
    const payload = emittedPayload(attentionHeatmapBundle(data as never, options as never));
    expect(payload).toBeDefined();
    const validated = validatePayload(payload);
    expect(validated.version).toBe(1);
    expect(validated.queryTokens.length).toBe(5);
  });
});

describe("malformed payloads", () => {
  const good = () => ({
    version: 1,
    queryTokens: ["a", "b"],
    keyTokens: ["x", "y", "z"],
    layers: [
      {
        label: "layer 0",
        heads: [
          {
            label: "head 0",
            weights: [
              [1, 0, 0],
              [0.5, 0.5, 0],
            ],
          },
        ],
      },
    ],
  });
  const cases: [string, (p: ReturnType<typeof good>) => unknown][] = [
    ["version 2", (p) => ({ ...p, version: 2 })],
    ["missing keyTokens", (p) => ({ ...p, keyTokens: undefined })],
    ["non-string token", (p) => ({ ...p, queryTokens: ["a", 3] })],
    ["ragged row", (p) => ((p.layers[0].heads[0].weights[1] = [0.5, 0.5]), p)],
    ["weight above 1", (p) => ((p.layers[0].heads[0].weights[0][0] = 1.5), p)],
    ["NaN weight", (p) => ((p.layers[0].heads[0].weights[0][0] = NaN), p)],
    ["no layers", (p) => ({ ...p, layers: [] })],
    ["no heads", (p) => ((p.layers[0].heads = []), p)],
    ["too many tokens", (p) => ({ ...p, queryTokens: Array.from({ length: 513 }, () => "t") })],
  ];

  it("the unmodified payload passes both validators", () => {
    expect(() => validatePayload(good())).not.toThrow();
    expect(() => validateAttentionPayload(good())).not.toThrow();
  });

  it.each(cases)("%s fails both validators", (_, spoil) => {
    expect(() => validatePayload(spoil(good()))).toThrow();
    expect(() => validateAttentionPayload(spoil(good()))).toThrow();
  });
});
