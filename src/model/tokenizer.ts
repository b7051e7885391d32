// The BERT WordPiece tokenizer, written to give the same ids as Hugging Face's
// fast BertTokenizer (tokenizers 0.23: BertNormalizer, BertPreTokenizer,
// WordPiece, the [CLS] A [SEP] template).

import { readFileSync } from "node:fs";
import { join } from "node:path";

import { formatValue } from "../format.js";

/** Settings of a {@link BertTokenizer}; the defaults are those of uncased BERT. */
export interface BertTokenizerOptions {
  /** Lowercase the text (after accent stripping). Default true. */
  lowercase?: boolean;
  /** Remove accents (NFD, then drop non-spacing marks). Default: the value of `lowercase`. */
  stripAccents?: boolean | null;
  /** Put spaces around CJK ideographs so that each is its own word. Default true. */
  tokenizeChineseChars?: boolean;
  /** Words longer than this many code points become the unknown token. Default 100. */
  maxInputCharsPerWord?: number;
  /** Maximum length of an encoding, special tokens included. Default 512. */
  modelMaxLength?: number;
  /** Unknown token. Default "[UNK]". */
  unkToken?: string;
  /** Classification token put first. Default "[CLS]". */
  clsToken?: string;
  /** Separator token put last. Default "[SEP]". */
  sepToken?: string;
  /** Padding token. Default "[PAD]". */
  padToken?: string;
  /** Mask token. Default "[MASK]". */
  maskToken?: string;
}

/** One encoded text. */
export interface Encoding {
  /** Token ids, `[CLS]` first and `[SEP]` last. */
  ids: number[];
  /** The tokens of `ids` (WordPiece pieces keep their `##` prefix). */
  tokens: string[];
  /** 1 for every token (padding is added only by {@link BertTokenizer.encodeBatch}). */
  attentionMask: number[];
  /** Segment ids: 0 for a single text. */
  tokenTypeIds: number[];
}

/** A padded batch of encodings, every row as long as the longest. */
export interface BatchEncoding {
  /** Token ids, shape (batch, L), padded with the padding token's id. */
  inputIds: number[][];
  /** 1 for real tokens, 0 for padding, shape (batch, L). */
  attentionMask: number[][];
  /** Segment ids, shape (batch, L), all 0. */
  tokenTypeIds: number[][];
  /** The unpadded tokens of each row. */
  tokens: string[][];
  /** Number of real tokens in each row. */
  lengths: number[];
}

/** Options of {@link BertTokenizer.encode} and {@link BertTokenizer.encodeBatch}. */
export interface EncodeOptions {
  /** Cut each encoding to at most this many tokens, special tokens included. Default: modelMaxLength. */
  maxLength?: number;
  /** Truncate to `maxLength` (true, the default) or throw when an encoding is longer (false). */
  truncation?: boolean;
}

// Characters that cleaning removes: control, format, private-use and surrogate
// code points. Unassigned code points (Cn) stay, as in Hugging Face's tokenizer.
// NOTE: the categories come from the JavaScript engine's Unicode tables, so a
// character assigned in a newer Unicode version than Hugging Face's (such as
// U+0890, a format character since Unicode 14) can be removed here but kept there.
const CONTROL = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u;
const NONSPACING_MARK = /\p{Mn}/gu;
const UNICODE_PUNCTUATION = /\p{P}/u;
// Rust's char::is_whitespace (the Unicode White_Space property); \s adds U+FEFF,
// which is a format character that cleaning has removed before this is used.
const WHITESPACE = /\s/u;

function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function isPunctuation(char: string): boolean {
  const cp = char.codePointAt(0)!;
  // ASCII punctuation includes $ + < = > ^ ` | ~, which Unicode files under symbols.
  const ascii =
    (cp >= 33 && cp <= 47) ||
    (cp >= 58 && cp <= 64) ||
    (cp >= 91 && cp <= 96) ||
    (cp >= 123 && cp <= 126);
  return ascii || UNICODE_PUNCTUATION.test(char);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The BERT WordPiece tokenizer: cleaning, CJK splitting, accent stripping and
 * lowercasing, splitting on whitespace and punctuation, then greedy
 * longest-match WordPiece with `##` continuation pieces.
 *
 * Special tokens written in the text (such as "[SEP]") are kept whole, as
 * Hugging Face's tokenizer does for its added tokens.
 *
 * @example
 * const tokenizer = BertTokenizer.fromDirectory(findMiniLMDir());
 * tokenizer.encode("Hello, world!").tokens; // ["[CLS]", "hello", ",", "world", "!", "[SEP]"]
 */
export class BertTokenizer {
  /** Token to id. */
  readonly vocab: ReadonlyMap<string, number>;
  /** Id to token. */
  readonly idToToken: readonly string[];
  /** The settings in use, defaults filled in. */
  readonly options: Readonly<
    Required<Omit<BertTokenizerOptions, "stripAccents">> & { stripAccents: boolean }
  >;
  private readonly specialPattern: RegExp;

  /**
   * Creates a tokenizer from a vocabulary in id order (line i of vocab.txt is id i).
   *
   * @throws {TypeError} when `vocab` is not an array of strings or an option has the wrong type.
   * @throws {RangeError} when the vocabulary lacks a special token or has a duplicate, or a number option is not a positive integer.
   */
  constructor(vocab: readonly string[], options: BertTokenizerOptions = {}) {
    const where = "BertTokenizer";
    if (!Array.isArray(vocab) || !vocab.every((t) => typeof t === "string")) {
      throw new TypeError(
        `${where}: vocab is ${formatValue(vocab)}; expected an array of token strings in id order`,
      );
    }
    if (options === null || typeof options !== "object") {
      throw new TypeError(`${where}: options is ${formatValue(options)}; expected an object`);
    }
    const lowercase = checkBoolean(options.lowercase ?? true, where, "options.lowercase");
    const stripAccents =
      options.stripAccents === null || options.stripAccents === undefined
        ? lowercase
        : checkBoolean(options.stripAccents, where, "options.stripAccents");
    this.options = Object.freeze({
      lowercase,
      stripAccents,
      tokenizeChineseChars: checkBoolean(
        options.tokenizeChineseChars ?? true,
        where,
        "options.tokenizeChineseChars",
      ),
      maxInputCharsPerWord: checkCount(
        options.maxInputCharsPerWord ?? 100,
        where,
        "options.maxInputCharsPerWord",
      ),
      modelMaxLength: checkCount(options.modelMaxLength ?? 512, where, "options.modelMaxLength"),
      unkToken: checkString(options.unkToken ?? "[UNK]", where, "options.unkToken"),
      clsToken: checkString(options.clsToken ?? "[CLS]", where, "options.clsToken"),
      sepToken: checkString(options.sepToken ?? "[SEP]", where, "options.sepToken"),
      padToken: checkString(options.padToken ?? "[PAD]", where, "options.padToken"),
      maskToken: checkString(options.maskToken ?? "[MASK]", where, "options.maskToken"),
    });

    const map = new Map<string, number>();
    vocab.forEach((token, id) => {
      if (map.has(token)) {
        throw new RangeError(
          `${where}: vocab[${id}] is ${formatValue(token)}, which is already vocab[${map.get(token)}]; ` +
            `expected each token once`,
        );
      }
      map.set(token, id);
    });
    const specials = [
      this.options.unkToken,
      this.options.clsToken,
      this.options.sepToken,
      this.options.padToken,
      this.options.maskToken,
    ];
    for (const special of specials) {
      if (!map.has(special)) {
        throw new RangeError(
          `${where}: the vocabulary has no ${formatValue(special)}; expected it to contain every special token`,
        );
      }
    }
    this.vocab = map;
    this.idToToken = Object.freeze([...vocab]);
    // Longest first, so that no special token matches inside a longer one.
    const alternatives = [...new Set(specials)]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp);
    this.specialPattern = new RegExp(`(${alternatives.join("|")})`, "u");
  }

  /**
   * Loads a tokenizer from a model directory: vocab.txt, and the casing and
   * length settings of tokenizer_config.json when that file exists.
   *
   * @throws {TypeError} when `directory` is not a string.
   * @throws {Error} from the file system when vocab.txt cannot be read.
   */
  static fromDirectory(directory: string): BertTokenizer {
    if (typeof directory !== "string") {
      throw new TypeError(
        `BertTokenizer.fromDirectory: directory is ${formatValue(directory)}; expected a path (a string)`,
      );
    }
    const lines = readFileSync(join(directory, "vocab.txt"), "utf-8").split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    const vocab = lines.map((line) => line.replace(/\r$/, ""));
    let config: Record<string, unknown> = {};
    try {
      config = JSON.parse(
        readFileSync(join(directory, "tokenizer_config.json"), "utf-8"),
      ) as Record<string, unknown>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const pick = <T>(key: string, kind: string): T | undefined =>
      typeof config[key] === kind ? (config[key] as T) : undefined;
    return new BertTokenizer(vocab, {
      lowercase: pick<boolean>("do_lower_case", "boolean"),
      stripAccents: pick<boolean>("strip_accents", "boolean"),
      tokenizeChineseChars: pick<boolean>("tokenize_chinese_chars", "boolean"),
      modelMaxLength: pick<number>("model_max_length", "number"),
      unkToken: pick<string>("unk_token", "string"),
      clsToken: pick<string>("cls_token", "string"),
      sepToken: pick<string>("sep_token", "string"),
      padToken: pick<string>("pad_token", "string"),
      maskToken: pick<string>("mask_token", "string"),
    });
  }

  /**
   * Normalises text as BertNormalizer does: drops NUL, U+FFFD and control
   * characters, turns whitespace into spaces, spaces out CJK ideographs, strips
   * accents and lowercases (each when enabled).
   */
  normalize(text: string): string {
    let out = "";
    for (const char of text) {
      const cp = char.codePointAt(0)!;
      if (char === "\t" || char === "\n" || char === "\r") {
        out += " ";
        continue;
      }
      if (cp === 0 || cp === 0xfffd || CONTROL.test(char)) continue;
      if (WHITESPACE.test(char)) out += " ";
      else if (this.options.tokenizeChineseChars && isCjk(cp)) out += ` ${char} `;
      else out += char;
    }
    if (this.options.stripAccents) out = out.normalize("NFD").replace(NONSPACING_MARK, "");
    // Lowercase one code point at a time: String.prototype.toLowerCase would turn a
    // word-final capital sigma into final sigma, which Hugging Face's tokenizer does not.
    if (this.options.lowercase) out = Array.from(out, (char) => char.toLowerCase()).join("");
    return out;
  }

  /** Splits normalised text into words on whitespace and around each punctuation character. */
  preTokenize(text: string): string[] {
    const words: string[] = [];
    let current = "";
    for (const char of text) {
      if (WHITESPACE.test(char)) {
        if (current) words.push(current);
        current = "";
      } else if (isPunctuation(char)) {
        if (current) words.push(current);
        words.push(char);
        current = "";
      } else {
        current += char;
      }
    }
    if (current) words.push(current);
    return words;
  }

  /** Splits one word into WordPiece tokens by greedy longest match, or returns the unknown token. */
  wordPiece(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > this.options.maxInputCharsPerWord) return [this.options.unkToken];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let match: string | null = null;
      while (start < end) {
        const piece = (start > 0 ? "##" : "") + chars.slice(start, end).join("");
        if (this.vocab.has(piece)) {
          match = piece;
          break;
        }
        end--;
      }
      if (match === null) return [this.options.unkToken];
      pieces.push(match);
      start = end;
    }
    return pieces;
  }

  /**
   * Returns the WordPiece tokens of `text`, without `[CLS]` and `[SEP]`.
   *
   * @throws {TypeError} when `text` is not a string.
   */
  tokenize(text: string): string[] {
    if (typeof text !== "string") {
      throw new TypeError(
        `BertTokenizer.tokenize: text is ${formatValue(text)}; expected a string`,
      );
    }
    const tokens: string[] = [];
    // split() with a capturing group keeps the special tokens at odd indices.
    text.split(this.specialPattern).forEach((part, index) => {
      if (index % 2 === 1) {
        tokens.push(part);
        return;
      }
      for (const word of this.preTokenize(this.normalize(part)))
        tokens.push(...this.wordPiece(word));
    });
    return tokens;
  }

  /**
   * Returns the ids of tokens; a token missing from the vocabulary maps to the unknown token's id.
   *
   * @throws {TypeError} when `tokens` is not an array of strings.
   */
  convertTokensToIds(tokens: readonly string[]): number[] {
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string")) {
      throw new TypeError(
        `BertTokenizer.convertTokensToIds: tokens is ${formatValue(tokens)}; expected an array of strings`,
      );
    }
    const unk = this.vocab.get(this.options.unkToken)!;
    return tokens.map((token) => this.vocab.get(token) ?? unk);
  }

  /**
   * Returns the tokens of ids.
   *
   * @throws {TypeError} when `ids` is not an array of numbers.
   * @throws {RangeError} when an id is not an integer in [0, vocabulary size).
   */
  convertIdsToTokens(ids: readonly number[]): string[] {
    const where = "BertTokenizer.convertIdsToTokens";
    if (!Array.isArray(ids))
      throw new TypeError(`${where}: ids is ${formatValue(ids)}; expected an array of integers`);
    return ids.map((id, i) => {
      if (typeof id !== "number")
        throw new TypeError(`${where}: ids[${i}] is ${formatValue(id)}; expected an integer`);
      if (!Number.isInteger(id) || id < 0 || id >= this.idToToken.length) {
        throw new RangeError(
          `${where}: ids[${i}] is ${formatValue(id)}; expected an integer in [0, ${this.idToToken.length - 1}]`,
        );
      }
      return this.idToToken[id];
    });
  }

  /**
   * Encodes one text as `[CLS] tokens [SEP]`, truncating the tokens so that
   * the encoding has at most `maxLength` entries.
   *
   * @throws {TypeError} when `text` is not a string or an option has the wrong type.
   * @throws {RangeError} when `options.maxLength` is not an integer >= 2, or the encoding is longer than it with `truncation: false`.
   */
  encode(text: string, options: EncodeOptions = {}): Encoding {
    const where = "BertTokenizer.encode";
    if (typeof text !== "string")
      throw new TypeError(`${where}: text is ${formatValue(text)}; expected a string`);
    const { maxLength, truncation } = this.checkEncodeOptions(options, where);
    let tokens = this.tokenize(text);
    if (tokens.length + 2 > maxLength) {
      if (!truncation) {
        throw new RangeError(
          `${where}: the text has ${tokens.length + 2} tokens with [CLS] and [SEP], more than ` +
            `options.maxLength ${maxLength}; pass truncation: true or a larger maxLength`,
        );
      }
      tokens = tokens.slice(0, maxLength - 2);
    }
    tokens = [this.options.clsToken, ...tokens, this.options.sepToken];
    return {
      ids: this.convertTokensToIds(tokens),
      tokens,
      attentionMask: tokens.map(() => 1),
      tokenTypeIds: tokens.map(() => 0),
    };
  }

  /**
   * Encodes texts and pads them on the right to the longest, with an attention
   * mask that is 0 on padding.
   *
   * @throws {TypeError} when `texts` is not an array of strings or an option has the wrong type.
   * @throws {RangeError} as {@link BertTokenizer.encode} does.
   */
  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): BatchEncoding {
    const where = "BertTokenizer.encodeBatch";
    if (!Array.isArray(texts))
      throw new TypeError(`${where}: texts is ${formatValue(texts)}; expected an array of strings`);
    texts.forEach((text, i) => {
      if (typeof text !== "string")
        throw new TypeError(`${where}: texts[${i}] is ${formatValue(text)}; expected a string`);
    });
    this.checkEncodeOptions(options, where);
    const encodings = texts.map((text) => this.encode(text, options));
    const width = Math.max(0, ...encodings.map((e) => e.ids.length));
    const padId = this.vocab.get(this.options.padToken)!;
    const pad = <T>(row: T[], value: T): T[] => [
      ...row,
      ...new Array<T>(width - row.length).fill(value),
    ];
    return {
      inputIds: encodings.map((e) => pad(e.ids, padId)),
      attentionMask: encodings.map((e) => pad(e.attentionMask, 0)),
      tokenTypeIds: encodings.map((e) => pad(e.tokenTypeIds, 0)),
      tokens: encodings.map((e) => e.tokens),
      lengths: encodings.map((e) => e.ids.length),
    };
  }

  private checkEncodeOptions(
    options: EncodeOptions,
    where: string,
  ): { maxLength: number; truncation: boolean } {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`${where}: options is ${formatValue(options)}; expected an object`);
    }
    const maxLength = options.maxLength ?? this.options.modelMaxLength;
    if (typeof maxLength !== "number") {
      throw new TypeError(
        `${where}: options.maxLength is ${formatValue(maxLength)}; expected an integer >= 2`,
      );
    }
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new RangeError(
        `${where}: options.maxLength is ${formatValue(maxLength)}; expected an integer >= 2 (room for [CLS] and [SEP])`,
      );
    }
    return {
      maxLength,
      truncation: checkBoolean(options.truncation ?? true, where, "options.truncation"),
    };
  }
}

function checkBoolean(value: unknown, where: string, name: string): boolean {
  if (typeof value !== "boolean")
    throw new TypeError(`${where}: ${name} is ${formatValue(value)}; expected true or false`);
  return value;
}

function checkString(value: unknown, where: string, name: string): string {
  if (typeof value !== "string")
    throw new TypeError(`${where}: ${name} is ${formatValue(value)}; expected a non-empty string`);
  if (value === "") throw new RangeError(`${where}: ${name} is ""; expected a non-empty string`);
  return value;
}

function checkCount(value: unknown, where: string, name: string): number {
  if (typeof value !== "number")
    throw new TypeError(`${where}: ${name} is ${formatValue(value)}; expected an integer >= 1`);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${where}: ${name} is ${formatValue(value)}; expected an integer >= 1`);
  }
  return value;
}
