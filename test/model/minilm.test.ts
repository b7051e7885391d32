import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { validateAttentionPayload } from "../../src/display/payload.js";
import { readBertConfig } from "../../src/model/bert.js";
import { attentionsToPayload, loadMiniLM, type MiniLM } from "../../src/model/minilm.js";
import { randn } from "../../src/tensor.js";

describe("MiniLM", () => {
  let minilm: MiniLM;
  beforeAll(() => {
    minilm = loadMiniLM();
  });

  it("loads float32 with sentence-transformers settings", () => {
    expect(minilm.model.dtype).toBe("float32");
    expect(minilm.maxSeqLength).toBe(256);
    expect(minilm.model.config.numHiddenLayers).toBe(6);
    expect(minilm.model.config.layerNormEps).toBe(1e-12);
  });

  it("padding leaves real tokens unchanged", () => {
    const alone = minilm.run("A dog.", { outputAttentions: true });
    const padded = minilm.run(["A dog.", "The cat sat on the mat."], { outputAttentions: true });
    const L = alone.encoding.lengths[0];
    for (let t = 0; t < L; t++) {
      for (let d = 0; d < 384; d += 37) {
        expect(
          Math.abs(padded.lastHiddenState.get(0, t, d) - alone.lastHiddenState.get(0, t, d)),
        ).toBeLessThan(1e-5);
      }
    }
    // Padding keys get weight 0 from every query.
    const width = padded.encoding.inputIds[0].length;
    for (let j = L; j < width; j++) expect(padded.attentions[2].get(0, 5, 1, j)).toBe(0);
  });

  it("similar sentences are closer", () => {
    const e = minilm.embed([
      "A man is eating food.",
      "A man is eating pasta.",
      "The stock market fell today.",
    ]);
    const cosine = (a: number, b: number) => {
      let s = 0;
      for (let d = 0; d < 384; d++) s += e.get(a, d) * e.get(b, d);
      return s;
    };
    expect(cosine(0, 1)).toBeGreaterThan(cosine(0, 2) + 0.3);
  });

  it("truncates to maxSeqLength", () => {
    const run = minilm.run("word ".repeat(300), { maxLength: 20 });
    expect(run.encoding.lengths).toEqual([20]);
    expect(run.encoding.tokens[0][19]).toBe("[SEP]");
  });

  it("attention payload is valid and matches the weights", () => {
    const text = "Hello, <b>world</b>!";
    const payload = minilm.attentionPayload(text);
    validateAttentionPayload(payload);
    const run = minilm.run(text, { outputAttentions: true });
    expect(payload.queryTokens).toEqual(run.encoding.tokens[0]);
    expect(payload.keyTokens).toEqual(run.encoding.tokens[0]);
    expect(payload.queryTokens).toContain("<");
    expect(payload.layers.map((l) => l.label)).toEqual([
      "layer 0",
      "layer 1",
      "layer 2",
      "layer 3",
      "layer 4",
      "layer 5",
    ]);
    expect(payload.layers[0].heads.length).toBe(12);
    expect(payload.layers[0].heads[11].label).toBe("head 11");
    expect(payload.layers[4].heads[7].weights[2][3]).toBe(run.attentions[4].get(0, 7, 2, 3));
    expect(payload.title).toBe(text);
  });

  it("attention payload with chosen layers and heads", () => {
    const payload = minilm.attentionPayload("a b", {
      layers: [5],
      heads: [0, 3],
      title: "t",
      caption: "c",
    });
    expect(payload.layers.map((l) => l.label)).toEqual(["layer 5"]);
    expect(payload.layers[0].heads.map((h) => h.label)).toEqual(["head 0", "head 3"]);
    expect(payload.caption).toBe("c");
  });

  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      "loadMiniLM dtype",
      () => loadMiniLM({ dtype: "int8" as never }),
      TypeError,
      /loadMiniLM: options\.dtype is "int8"/,
    ],
    [
      "loadMiniLM options",
      () => loadMiniLM(7 as never),
      TypeError,
      /loadMiniLM: options is 7; expected an object/,
    ],
    [
      "run texts empty",
      () => minilm.run([]),
      RangeError,
      /MiniLM\.run: texts is an empty array; expected at least one string/,
    ],
    [
      "run texts not strings",
      () => minilm.run([1] as never),
      TypeError,
      /texts\[0\] is 1; expected a string/,
    ],
    [
      "run maxLength too large",
      () => minilm.run("a", { maxLength: 600 }),
      RangeError,
      /options\.maxLength is 600; expected an integer in \[2, 512\]/,
    ],
    [
      "payload text",
      () => minilm.attentionPayload(3 as never),
      TypeError,
      /attentionPayload: text is 3; expected a string/,
    ],
    [
      "payload layer index",
      () => minilm.attentionPayload("a", { layers: [6] }),
      RangeError,
      /options\.layers\[0\] is 6; expected an integer in \[0, 5\]/,
    ],
    [
      "payload heads empty",
      () => minilm.attentionPayload("a", { heads: [] }),
      RangeError,
      /options\.heads is empty/,
    ],
    [
      "forward ids not arrays",
      () => minilm.model.forward({ inputIds: [5] as never }),
      TypeError,
      /BertModel\.forward: inputs\.inputIds\[0\] is 5; expected an array of integers/,
    ],
    [
      "forward ragged",
      () => minilm.model.forward({ inputIds: [[101, 102], [101]] }),
      RangeError,
      /inputs\.inputIds\[1\] has 1 entries but inputs\.inputIds\[0\] has 2; expected rows of equal length/,
    ],
    [
      "forward id out of range",
      () => minilm.model.forward({ inputIds: [[101, 30522]] }),
      RangeError,
      /inputs\.inputIds\[0\]\[1\] is 30522; expected an integer in \[0, 30521\]/,
    ],
    [
      "forward mask value",
      () => minilm.model.forward({ inputIds: [[101, 102]], attentionMask: [[1, 2]] }),
      RangeError,
      /inputs\.attentionMask\[0\]\[1\] is 2; expected an integer in \[0, 1\]/,
    ],
    [
      "forward mask shape",
      () => minilm.model.forward({ inputIds: [[101, 102]], attentionMask: [[1]] }),
      RangeError,
      /inputs\.attentionMask has shape \[1, 1\]; expected \[1, 2\] like inputs\.inputIds/,
    ],
    [
      "forward too long",
      () => minilm.model.forward({ inputIds: [new Array(513).fill(101)] }),
      RangeError,
      /has 513 tokens per row; expected at most maxPositionEmbeddings 512/,
    ],
    [
      "forward empty",
      () => minilm.model.forward({ inputIds: [] }),
      RangeError,
      /inputs\.inputIds has shape \[0, 0\]; expected at least one row and one token/,
    ],
    [
      "forward option",
      () => minilm.model.forward({ inputIds: [[101]] }, { outputAttentions: 1 as never }),
      TypeError,
      /options\.outputAttentions is 1; expected true or false/,
    ],
    [
      "payload helper shape",
      () => attentionsToPayload(["a", "b"], [randn([1, 2, 3, 3])]),
      RangeError,
      /attentions\[0\] has shape \[1, 2, 3, 3\]; expected \(1, H, L, L\) or \(H, L, L\) with L = 2 tokens/,
    ],
    [
      "payload helper tensors",
      () => attentionsToPayload(["a"], [[1]] as never),
      TypeError,
      /attentions is an array of length 1; expected an array of tensors/,
    ],
  ];
  for (const [name, run, kind, message] of cases) {
    it(`rejects ${name}`, () => {
      expect(run).toThrow(kind);
      expect(run).toThrow(message);
    });
  }
});

describe("readBertConfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "dotattn-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = {
    vocab_size: 10,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 16,
    max_position_embeddings: 4,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_act: "gelu",
  };
  const write = (name: string, value: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
    return path;
  };

  it("reads the fields", () => {
    expect(readBertConfig(write("ok.json", base)).intermediateSize).toBe(16);
  });

  const cases: [string, unknown, RegExp][] = [
    ["not JSON", "{", /is not valid JSON/],
    [
      "missing field",
      { ...base, hidden_size: undefined },
      /hidden_size is undefined; expected an integer >= 1/,
    ],
    ["other activation", { ...base, hidden_act: "relu" }, /hidden_act is "relu"; only "gelu"/],
    [
      "relative positions",
      { ...base, position_embedding_type: "relative_key" },
      /position_embedding_type is "relative_key"; only "absolute"/,
    ],
    [
      "heads not dividing",
      { ...base, num_attention_heads: 3 },
      /num_attention_heads 3 does not divide hidden_size 8/,
    ],
  ];
  for (const [name, value, message] of cases) {
    it(`rejects ${name}`, () => {
      const path = write(`${name}.json`, value);
      expect(() => readBertConfig(path)).toThrow(RangeError);
      expect(() => readBertConfig(path)).toThrow(message);
    });
  }
});
