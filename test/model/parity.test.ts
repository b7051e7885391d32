// all-MiniLM-L6-v2 in TypeScript against Hugging Face transformers and
// sentence-transformers (fixtures from scripts/gen_model_parity.py). Needs the
// weights package in .venv (bash scripts/setup.sh); never needs torch.

import { beforeAll, describe, expect, it } from "vitest";

import { BertTokenizer } from "../../src/model/tokenizer.js";
import { loadMiniLM, type MiniLM } from "../../src/model/minilm.js";
import { findMiniLMDir } from "../../src/model/locate.js";
import type { Tensor } from "../../src/tensor.js";
import { assertClose, type Tolerance } from "../core/helpers/compare.js";
import { readFixture, slab, unpack, type PackedArray } from "./fixtures.js";

interface TokenizerFixture {
  versions: Record<string, string>;
  cases: { text: string; ids: number[]; tokens: string[]; idsMaxLength16: number[] }[];
  batch: { texts: string[]; inputIds: number[][]; attentionMask: number[][] };
}

interface RunRecord {
  texts: string[];
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
  attentions: PackedArray;
  hiddenStates?: PackedArray;
}

interface ModelFixture {
  versions: Record<string, string>;
  dtype: "float64" | "float32";
  sentences: RunRecord[];
  batch: RunRecord;
  embeddings: { texts: string[]; maxSeqLength: number; values: PackedArray };
}

const view = (t: Tensor) => ({
  shape: t.shape,
  data: t.data,
  strides: t.strides,
  offset: t.offset,
});

// Float64 agrees with PyTorch float64 to rounding; the bound leaves room for
// summation order over 6 layers. Float32 is compared with PyTorch float32:
// both round differently, so the bound is relative with an absolute floor.
const TOLERANCE: Record<"float64" | "float32", Tolerance> = {
  float64: { atol: 1e-9, rtol: 1e-9 },
  float32: { atol: 1e-5, rtol: 1e-5 },
};

describe("tokenizer matches Hugging Face", () => {
  const fixture = readFixture<TokenizerFixture>("tokenizer-ids.json");
  let tokenizer: BertTokenizer;
  beforeAll(() => {
    tokenizer = BertTokenizer.fromDirectory(findMiniLMDir());
  });

  it("fixture has many cases", () => {
    expect(fixture.cases.length).toBeGreaterThan(25);
    expect(fixture.versions.tokenizers).toBeTypeOf("string");
  });

  for (const [index, c] of fixture.cases.entries()) {
    it(`ids of case ${index}: ${JSON.stringify(c.text.slice(0, 40))}`, () => {
      const encoding = tokenizer.encode(c.text);
      expect(encoding.tokens).toEqual(c.tokens);
      expect(encoding.ids).toEqual(c.ids);
      expect(tokenizer.encode(c.text, { maxLength: 16 }).ids).toEqual(c.idsMaxLength16);
    });
  }

  it("padded batch", () => {
    const batch = tokenizer.encodeBatch(fixture.batch.texts);
    expect(batch.inputIds).toEqual(fixture.batch.inputIds);
    expect(batch.attentionMask).toEqual(fixture.batch.attentionMask);
  });
});

for (const dtype of ["float64", "float32"] as const) {
  describe(`encoder in ${dtype} matches PyTorch`, () => {
    const fixture = readFixture<ModelFixture>(`minilm-${dtype}.json`);
    const tolerance = TOLERANCE[dtype];
    let minilm: MiniLM;
    beforeAll(() => {
      minilm = loadMiniLM({ dtype });
    });

    it("fixture records the generator", () => {
      expect(fixture.dtype).toBe(dtype);
      expect(fixture.versions.torch).toMatch(/^2\.13\.0/);
      expect(fixture.embeddings.maxSeqLength).toBe(256);
    });

    const records = [
      ...fixture.sentences.map((r, i) => [`sentence ${i}`, r] as const),
      ["padded batch", fixture.batch] as const,
    ];
    for (const [name, record] of records) {
      it(`${name}: ids, attentions${record.hiddenStates ? ", hidden states" : ""}`, () => {
        const run = minilm.run(record.texts, { outputAttentions: true, outputHiddenStates: true });
        expect(run.encoding.inputIds).toEqual(record.inputIds);
        expect(run.encoding.attentionMask).toEqual(record.attentionMask);
        const attentions = unpack(record.attentions); // layers x N x H x L x L
        const hidden = record.hiddenStates ? unpack(record.hiddenStates) : null; // (layers + 1) x N x L x D
        expect(run.attentions.length).toBe(attentions.shape[0]);
        if (hidden) expect(run.hiddenStates.length).toBe(hidden.shape[0]);

        if (dtype === "float64") {
          run.attentions.forEach((a, layer) => {
            assertClose(
              `${name} attentions layer ${layer}`,
              view(a),
              slab(attentions, [layer]),
              tolerance,
            );
          });
          run.hiddenStates.forEach((h, layer) => {
            if (hidden)
              assertClose(
                `${name} hidden state ${layer}`,
                view(h),
                slab(hidden, [layer]),
                tolerance,
              );
          });
          return;
        }
        // Float32: rows of real tokens against PyTorch float32. Padding rows
        // are compared with the float64 reference below, because PyTorch's own
        // float32 error there reaches 5e-5 (ours stays near 1e-6).
        const [N, L] = [record.inputIds.length, record.inputIds[0].length];
        const H = run.attentions[0].shape[1];
        for (let n = 0; n < N; n++) {
          for (let t = 0; t < L; t++) {
            if (record.attentionMask[n][t] === 0) continue;
            run.attentions.forEach((a, layer) => {
              for (let h = 0; h < H; h++) {
                assertClose(
                  `${name} attentions layer ${layer} [${n}, ${h}, ${t}]`,
                  slab(view(a), [n, h, t]),
                  slab(attentions, [layer, n, h, t]),
                  tolerance,
                );
              }
            });
            run.hiddenStates.forEach((state, layer) => {
              if (hidden)
                assertClose(
                  `${name} hidden state ${layer} [${n}, ${t}]`,
                  slab(view(state), [n, t]),
                  slab(hidden, [layer, n, t]),
                  tolerance,
                );
            });
          }
        }
      });
    }

    if (dtype === "float32") {
      it("padded batch, all rows: float64 reference", () => {
        const reference = readFixture<ModelFixture>("minilm-float64.json").batch;
        const run = minilm.run(reference.texts, {
          outputAttentions: true,
          outputHiddenStates: true,
        });
        const attentions = unpack(reference.attentions);
        const hidden = unpack(reference.hiddenStates!);
        run.attentions.forEach((a, layer) => {
          assertClose(
            `attentions layer ${layer} vs float64`,
            view(a),
            slab(attentions, [layer]),
            tolerance,
          );
        });
        run.hiddenStates.forEach((h, layer) => {
          assertClose(
            `hidden state ${layer} vs float64`,
            view(h),
            slab(hidden, [layer]),
            tolerance,
          );
        });
      });
    }

    it("sentence embeddings", () => {
      const expected = unpack(fixture.embeddings.values);
      const embeddings = minilm.embed(fixture.embeddings.texts);
      assertClose("embeddings", view(embeddings), expected, tolerance);
      // Unit norm, as sentence-transformers' Normalize module gives.
      for (let n = 0; n < embeddings.shape[0]; n++) {
        let norm = 0;
        for (let d = 0; d < embeddings.shape[1]; d++) norm += embeddings.get(n, d) ** 2;
        expect(Math.abs(Math.sqrt(norm) - 1)).toBeLessThan(1e-6);
      }
    });
  });
}
