"""Generate multi-head attention test vectors with PyTorch (float64).

Run from the repository root with the torch environment:

    .venv-torch/bin/python scripts/gen_mha_vectors.py

Writes test/fixtures/model/mha-vectors.json. Each case contains a state dict
(nested lists), the inputs, the forward options in dotattn's terms (keep-masks:
true keeps) and PyTorch's output and attention weights. Three layouts:

- "torch": torch.nn.MultiheadAttention (in_proj_weight [3E, E], in_proj_bias,
  out_proj.weight, out_proj.bias), run by PyTorch itself;
- "bert": BERT self-attention names (query/key/value .weight/.bias,
  output.dense.weight/.bias), computed with torch.nn.functional;
- "gqa": grouped-query attention with BERT names, where key and value have
  fewer heads, computed with F.scaled_dot_product_attention(enable_gqa=True).

Values are written with Python's repr, which round-trips float64 exactly.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "model" / "mha-vectors.json"
DTYPE = torch.float64


def lists(t: torch.Tensor | None):
    return None if t is None else t.detach().tolist()


def torch_case(name, *, embed_dim, num_heads, bias, batch, L, S, seed, keep_mask=None,
               key_keep=None, causal=False, average=False, self_attention=False):
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True, dtype=DTYPE)
    # Non-zero biases so that loading them is tested (PyTorch initialises them to 0).
    if bias:
        with torch.no_grad():
            mha.in_proj_bias.normal_()
            mha.out_proj.bias.normal_()
    shape_q = (batch, L, embed_dim) if batch is not None else (L, embed_dim)
    shape_k = (batch, S, embed_dim) if batch is not None else (S, embed_dim)
    query = torch.randn(shape_q, dtype=DTYPE)
    if self_attention:
        key = value = query
    else:
        key = torch.randn(shape_k, dtype=DTYPE)
        value = torch.randn(shape_k, dtype=DTYPE)

    attn_mask = None
    if causal:
        attn_mask = torch.ones(L, S, dtype=torch.bool).triu(1)  # True = not allowed
    if keep_mask is not None:
        m = ~torch.tensor(keep_mask, dtype=torch.bool)
        attn_mask = m if attn_mask is None else (attn_mask | m)
    key_padding_mask = None if key_keep is None else ~torch.tensor(key_keep, dtype=torch.bool)

    with torch.no_grad():
        output, weights = mha(query, key, value, key_padding_mask=key_padding_mask,
                              need_weights=True, attn_mask=attn_mask,
                              average_attn_weights=average)
    state = {k: lists(v) for k, v in mha.state_dict().items()}
    options = {"averageWeights": average}
    if keep_mask is not None:
        options["mask"] = keep_mask
    if key_keep is not None:
        options["keyMask"] = key_keep
    if causal:
        options["isCausal"] = True
    return {
        "name": name, "layout": "torch", "embedDim": embed_dim, "numHeads": num_heads,
        "numKeyValueHeads": num_heads, "bias": bias, "stateDict": state,
        "query": lists(query), "key": lists(key), "value": lists(value),
        "options": options, "output": lists(output), "weights": lists(weights),
    }


def bert_case(name, *, embed_dim, num_heads, num_kv_heads, bias, batch, L, S, seed,
              key_keep=None, causal=False):
    torch.manual_seed(seed)
    head_dim = embed_dim // num_heads
    kv_dim = num_kv_heads * head_dim

    def linear(out_features, in_features):
        w = torch.randn(out_features, in_features, dtype=DTYPE) / math.sqrt(in_features)
        b = torch.randn(out_features, dtype=DTYPE) if bias else None
        return w, b

    wq, bq = linear(embed_dim, embed_dim)
    wk, bk = linear(kv_dim, embed_dim)
    wv, bv = linear(kv_dim, embed_dim)
    wo, bo = linear(embed_dim, embed_dim)
    query = torch.randn(batch, L, embed_dim, dtype=DTYPE)
    key = torch.randn(batch, S, embed_dim, dtype=DTYPE)
    value = torch.randn(batch, S, embed_dim, dtype=DTYPE)

    def split(x, heads):  # (N, T, heads*Dh) -> (N, heads, T, Dh)
        return x.view(batch, x.shape[1], heads, head_dim).transpose(1, 2)

    q = split(F.linear(query, wq, bq), num_heads)
    k = split(F.linear(key, wk, bk), num_kv_heads)
    v = split(F.linear(value, wv, bv), num_kv_heads)

    keep = torch.ones(batch, 1, L, S, dtype=torch.bool)
    if key_keep is not None:
        keep = keep & torch.tensor(key_keep, dtype=torch.bool)[:, None, None, :]
    if causal:
        keep = keep & torch.ones(L, S, dtype=torch.bool).tril()
    with torch.no_grad():
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keep,
                                                  enable_gqa=num_kv_heads != num_heads)
        # The weights, computed the plain way with each K/V head repeated for its group.
        group = num_heads // num_kv_heads
        k_full = k.repeat_interleave(group, dim=1)
        scores = q @ k_full.transpose(-2, -1) / math.sqrt(head_dim)
        scores = scores.masked_fill(~keep, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        output = F.linear(attended.transpose(1, 2).reshape(batch, L, embed_dim), wo, bo)

    state = {"query.weight": lists(wq), "key.weight": lists(wk), "value.weight": lists(wv),
             "output.dense.weight": lists(wo)}
    if bias:
        state.update({"query.bias": lists(bq), "key.bias": lists(bk), "value.bias": lists(bv),
                      "output.dense.bias": lists(bo)})
    options = {}
    if key_keep is not None:
        options["keyMask"] = key_keep
    if causal:
        options["isCausal"] = True
    return {
        "name": name, "layout": "bert" if num_kv_heads == num_heads else "gqa",
        "embedDim": embed_dim, "numHeads": num_heads, "numKeyValueHeads": num_kv_heads,
        "bias": bias, "stateDict": state,
        "query": lists(query), "key": lists(key), "value": lists(value),
        "options": options, "output": lists(output), "weights": lists(weights),
    }


def main() -> None:
    cases = [
        torch_case("torch, no mask, per-head weights", embed_dim=8, num_heads=2, bias=True,
                   batch=2, L=3, S=4, seed=1),
        torch_case("torch, averaged weights", embed_dim=8, num_heads=4, bias=True,
                   batch=2, L=3, S=5, seed=2, average=True),
        torch_case("torch, no bias", embed_dim=6, num_heads=3, bias=False,
                   batch=1, L=4, S=4, seed=3),
        torch_case("torch, key padding and mask", embed_dim=8, num_heads=2, bias=True,
                   batch=2, L=3, S=4, seed=4,
                   keep_mask=[[True, True, False, True], [True, False, True, True],
                              [True, True, True, False]],
                   key_keep=[[True, True, True, False], [True, True, False, False]]),
        torch_case("torch, causal self-attention", embed_dim=8, num_heads=2, bias=True,
                   batch=2, L=5, S=5, seed=5, causal=True, self_attention=True),
        torch_case("torch, unbatched", embed_dim=4, num_heads=1, bias=True,
                   batch=None, L=3, S=2, seed=6),
        bert_case("bert, padded keys", embed_dim=12, num_heads=3, num_kv_heads=3, bias=True,
                  batch=2, L=4, S=4, seed=7,
                  key_keep=[[True, True, True, True], [True, True, False, False]]),
        bert_case("gqa, 4 query heads share 2 key/value heads", embed_dim=16, num_heads=4,
                  num_kv_heads=2, bias=True, batch=2, L=3, S=5, seed=8),
        bert_case("gqa, multi-query causal", embed_dim=12, num_heads=3, num_kv_heads=1,
                  bias=False, batch=1, L=4, S=4, seed=9, causal=True),
    ]
    fixture = {
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "generator": "scripts/gen_mha_vectors.py"},
        "dtype": "float64",
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
