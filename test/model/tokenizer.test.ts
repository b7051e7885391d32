import { describe, expect, it } from "vitest";

import { BertTokenizer } from "../../src/model/tokenizer.js";

const VOCAB = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  "un",
  "##aff",
  "##able",
  "the",
  "cat",
  ",",
  "!",
  "cafe",
  "東",
];

describe("BertTokenizer on a small vocabulary", () => {
  const tokenizer = new BertTokenizer(VOCAB);

  it("greedy longest match with ##", () => {
    expect(tokenizer.tokenize("unaffable")).toEqual(["un", "##aff", "##able"]);
  });

  it("unknown word becomes one [UNK]", () => {
    expect(tokenizer.tokenize("unaffablex the")).toEqual(["[UNK]", "the"]);
  });

  it("lowercases, strips accents, splits punctuation", () => {
    expect(tokenizer.tokenize("THE Café,cat!")).toEqual(["the", "cafe", ",", "cat", "!"]);
  });

  it("words over maxInputCharsPerWord are [UNK]", () => {
    const short = new BertTokenizer(VOCAB, { maxInputCharsPerWord: 5 });
    expect(short.tokenize("unaffable cat")).toEqual(["[UNK]", "cat"]);
  });

  it("CJK ideographs are separate words", () => {
    expect(tokenizer.tokenize("東東")).toEqual(["東", "東"]);
  });

  it("cased tokenizer keeps case and accents", () => {
    const cased = new BertTokenizer([...VOCAB, "Café"], { lowercase: false });
    expect(cased.tokenize("Café")).toEqual(["Café"]);
    expect(cased.options.stripAccents).toBe(false);
  });

  it("encode adds [CLS] and [SEP] and truncates", () => {
    const encoding = tokenizer.encode("the cat the cat", { maxLength: 4 });
    expect(encoding.tokens).toEqual(["[CLS]", "the", "cat", "[SEP]"]);
    expect(encoding.ids).toEqual([2, 8, 9, 3]);
    expect(encoding.attentionMask).toEqual([1, 1, 1, 1]);
  });

  it("encodeBatch pads on the right", () => {
    const batch = tokenizer.encodeBatch(["the cat", "cat"]);
    expect(batch.inputIds).toEqual([
      [2, 8, 9, 3],
      [2, 9, 3, 0],
    ]);
    expect(batch.attentionMask).toEqual([
      [1, 1, 1, 1],
      [1, 1, 1, 0],
    ]);
    expect(batch.lengths).toEqual([4, 3]);
  });

  it("ids and tokens round-trip", () => {
    expect(tokenizer.convertIdsToTokens(tokenizer.convertTokensToIds(["the", "zzz"]))).toEqual([
      "the",
      "[UNK]",
    ]);
  });

  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      "vocab not strings",
      () => new BertTokenizer([1, 2] as never),
      TypeError,
      /BertTokenizer: vocab is an array of length 2; expected an array of token strings/,
    ],
    [
      "duplicate token",
      () => new BertTokenizer([...VOCAB, "the"]),
      RangeError,
      /vocab\[14\] is "the", which is already vocab\[8\]/,
    ],
    [
      "missing special",
      () => new BertTokenizer(["[PAD]", "[UNK]"]),
      RangeError,
      /the vocabulary has no "\[CLS\]"/,
    ],
    [
      "lowercase not boolean",
      () => new BertTokenizer(VOCAB, { lowercase: "yes" as never }),
      TypeError,
      /options\.lowercase is "yes"; expected true or false/,
    ],
    [
      "maxInputCharsPerWord zero",
      () => new BertTokenizer(VOCAB, { maxInputCharsPerWord: 0 }),
      RangeError,
      /options\.maxInputCharsPerWord is 0; expected an integer >= 1/,
    ],
    [
      "empty special",
      () => new BertTokenizer(VOCAB, { unkToken: "" }),
      RangeError,
      /options\.unkToken is ""; expected a non-empty string/,
    ],
    [
      "text not a string",
      () => tokenizer.encode(5 as never),
      TypeError,
      /BertTokenizer\.encode: text is 5; expected a string/,
    ],
    [
      "maxLength too small",
      () => tokenizer.encode("cat", { maxLength: 1 }),
      RangeError,
      /options\.maxLength is 1; expected an integer >= 2/,
    ],
    [
      "maxLength a string",
      () => tokenizer.encode("cat", { maxLength: "8" as never }),
      TypeError,
      /options\.maxLength is "8"/,
    ],
    [
      "too long without truncation",
      () => tokenizer.encode("the cat the", { maxLength: 4, truncation: false }),
      RangeError,
      /the text has 5 tokens with \[CLS\] and \[SEP\], more than options\.maxLength 4/,
    ],
    [
      "batch entry not a string",
      () => tokenizer.encodeBatch(["a", null as never]),
      TypeError,
      /encodeBatch: texts\[1\] is null; expected a string/,
    ],
    [
      "id out of range",
      () => tokenizer.convertIdsToTokens([3, 99]),
      RangeError,
      /ids\[1\] is 99; expected an integer in \[0, 13\]/,
    ],
    [
      "tokens not strings",
      () => tokenizer.convertTokensToIds([1] as never),
      TypeError,
      /tokens is an array of length 1; expected an array of strings/,
    ],
    [
      "directory not a string",
      () => BertTokenizer.fromDirectory(1 as never),
      TypeError,
      /fromDirectory: directory is 1; expected a path/,
    ],
  ];
  for (const [name, run, kind, message] of cases) {
    it(`rejects ${name}`, () => {
      expect(run).toThrow(kind);
      expect(run).toThrow(message);
    });
  }
});
