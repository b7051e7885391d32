"""Generate the PyTorch test vectors for dotattn's attention functions.

Run from the repository root with the torch environment:

    bash scripts/setup-torch.sh && .venv-torch/bin/python scripts/gen_sdpa_vectors.py

It writes one JSON file per group of cases to test/fixtures/sdpa/ and is
deterministic: every random tensor comes from one torch.Generator seeded with
SEED, drawn in case order, so rerunning it rewrites the same numbers (only the
"generated" date changes).

File format (every file):

    {
      "format": "...",            # this description, short form
      "generator": {"script", "torch", "python", "seed", "generated"},
      "cases": [
        {
          "name": "...", "description": "...",
          "reference": "torch.nn.functional.scaled_dot_product_attention"
                       | "explicit float64 torch ops",
          "crossCheck": "..."       # what the explicit path was checked against
          "inputs": {"q", "k", "v", "dOutput", "mask"},   # mask may be null
          "options": {...},         # dotattn's names: isCausal, alignment,
                                    # window, scale, bias, softcap (only those set)
          "expected": {"output", "weights", "dQ", "dK", "dV",
                       "scores", "scaled", "masked", "keep"}
        }
      ]
    }

Every tensor is {"shape": [...], "data": [...]} with data flat in row-major
order. Numbers are float64 written with full round-trip precision. JSON has no
NaN or Infinity, so non-finite numbers are the strings "NaN", "Infinity" and
"-Infinity". Masks are stored as 0/1 numbers (1 keeps the position).

Expected values:

- "output", "weights", "dQ", "dK", "dV": weights are (..., L, S), the
  gradients are those of sum(output * dOutput), summed over broadcast dims.
- "scores" = Q K^T, "scaled" = after scale and softcap, "masked" = after bias
  and masks with -Infinity at every masked position, "keep" = 1 where the
  keep-mask, isCausal and window all keep the position and the bias is not
  -Infinity. "scores" and "scaled" are left out of cases whose inputs hold NaN
  or Infinity, because NaN never compares equal.

Semantics (dotattn's): order of operations is scale, softcap, bias, masks,
softmax, multiply by V. With offset = 0 ("upper-left", PyTorch's is_causal) or
S - L ("lower-right"), isCausal keeps key j for query i when j <= i + offset and
window [left, right] keeps it when i + offset - left <= j <= i + offset + right
(null is unbounded). A query row with no kept key has weights 0, output 0 and
zero gradients.

Every case is computed with the explicit function `reference_attention` below
(float64 torch ops, one step per line) and autograd. Every case without
softcap also runs through PyTorch's scaled_dot_product_attention: a lone
isCausal as is_causal (upper-left) or causal_lower_right (lower-right), and
otherwise with the keep-mask, the causal and window pattern (built a second way
with torch.tril/triu) and the bias folded into attn_mask. The script asserts
that both paths agree to 1e-12 and stores PyTorch's output and gradients
("reference" and "crossCheck" in each case record which path and call were used).
Weights, scores, scaled, masked and keep always come from the explicit path,
because PyTorch's function returns only the output.
PyTorch 2.13 gives weights 0, output 0 and gradients 0 for a fully masked row,
on its default CPU path, so those rows are checked against it too.
Cases whose K and V hold NaN or Infinity at a key that every query masks take
their expected values from the same case with that key removed, with zero dK
and dV rows at the removed key.
"""

from __future__ import annotations

import datetime
import json
import math
import platform
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

SEED = 20250607
DTYPE = torch.float64
AGREEMENT_TOLERANCE = 1e-12
OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "sdpa"
SDPA_NAME = "torch.nn.functional.scaled_dot_product_attention"
EXPLICIT_NAME = "explicit float64 torch ops"

GENERATOR = torch.Generator().manual_seed(SEED)


def randn(*shape: int, multiplier: float = 1.0) -> torch.Tensor:
    """Draw a float64 N(0, 1) tensor from the seeded generator."""
    return torch.randn(*shape, generator=GENERATOR, dtype=DTYPE) * multiplier


def random_keep(*shape: int, keep_probability: float = 0.7) -> torch.Tensor:
    """Draw a boolean keep-mask from the seeded generator."""
    return torch.rand(*shape, generator=GENERATOR, dtype=DTYPE) < keep_probability


@dataclass
class Case:
    """One test vector: inputs, dotattn options and the group file it goes to."""

    group: str
    name: str
    description: str
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    mask: torch.Tensor | None = None
    is_causal: bool = False
    alignment: str | None = None  # None means the default, "upper-left"
    window: tuple[int | None, int | None] | None = None
    scale: float | None = None
    bias: torch.Tensor | None = None
    softcap: float | None = None
    # Index of a key that every query masks and whose K and V rows hold NaN or
    # Infinity. Expected values come from the case with this key removed.
    poisoned_key: int | None = None
    d_output: torch.Tensor | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------
# The explicit reference


def structural_keep(case: Case, L: int, S: int) -> torch.Tensor:
    """Return the boolean (..., L, S) keep pattern of mask AND isCausal AND window."""
    keep = torch.ones(L, S, dtype=torch.bool)
    offset = S - L if case.alignment == "lower-right" else 0
    i = torch.arange(L).unsqueeze(1)  # (L, 1) query index
    j = torch.arange(S).unsqueeze(0)  # (1, S) key index
    if case.is_causal:
        keep = keep & (j <= i + offset)
    if case.window is not None:
        left, right = case.window
        if left is not None:
            keep = keep & (j >= i + offset - left)
        if right is not None:
            keep = keep & (j <= i + offset + right)
    # Cross-check the index arithmetic against the tril/triu formulation.
    assert torch.equal(keep, tril_triu_pattern(case, L, S)), case.name
    if case.mask is not None:
        keep = keep & case.mask
    return keep


def default_scale(case: Case) -> float:
    E = case.q.shape[-1]
    return case.scale if case.scale is not None else 1.0 / math.sqrt(E)


def reference_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, case: Case
) -> dict[str, torch.Tensor]:
    """Compute dotattn's attention step by step in float64 (differentiable)."""
    L, S = q.shape[-2], k.shape[-2]

    # 1. scores = Q K^T: (..., L, E) x (..., E, S) -> (..., L, S)
    scores = q @ k.transpose(-2, -1)

    # 2. scale, then softcap: s -> softcap * tanh(s / softcap)
    scaled = scores * default_scale(case)
    if case.softcap is not None:
        scaled = case.softcap * torch.tanh(scaled / case.softcap)

    # 3. additive bias (-inf entries stay -inf)
    biased = scaled + case.bias if case.bias is not None else scaled

    # 4. masks: -inf wherever the keep-mask, isCausal or window drop the key
    keep = structural_keep(case, L, S)
    minus_inf = torch.tensor(-math.inf, dtype=DTYPE)
    masked = torch.where(keep, biased, minus_inf)

    # 5. softmax over keys. A row with no finite entry gets weights 0, not NaN.
    #    The row maximum is a constant shift that cancels in the ratio, so it is
    #    detached. A fully masked row uses shift 0 and denominator 1, so neither
    #    the forward nor the backward pass divides 0 by 0.
    if S > 0:
        row_max = masked.detach().amax(dim=-1, keepdim=True)
    else:
        row_max = torch.zeros(*masked.shape[:-1], 1, dtype=DTYPE)
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
    exponentials = torch.exp(masked - row_max)  # exp(-inf) = 0 at masked keys
    denominator = exponentials.sum(dim=-1, keepdim=True)
    denominator = torch.where(denominator > 0, denominator, torch.ones_like(denominator))
    weights = exponentials / denominator

    # 6. weighted sum of values: (..., L, S) x (..., S, Ev) -> (..., L, Ev)
    output = weights @ v

    # A -inf bias entry masks its position too, so "keep" leaves it out.
    if case.bias is not None:
        keep = keep & (case.bias != -math.inf)
    full_keep = torch.broadcast_to(keep, masked.shape)
    return {
        "scores": scores,
        "scaled": scaled,
        "masked": masked,
        "keep": full_keep,
        "weights": weights,
        "output": output,
    }


def tril_triu_pattern(case: Case, L: int, S: int) -> torch.Tensor:
    """Build the isCausal and window keep pattern a second way, with torch.tril/triu.

    tril(diagonal=d) keeps j - i <= d and triu(diagonal=d) keeps j - i >= d,
    so this is independent of the index arithmetic in `structural_keep`.
    """
    offset = S - L if case.alignment == "lower-right" else 0
    keep = torch.ones(L, S, dtype=torch.bool)
    if case.is_causal:
        keep = keep.tril(diagonal=offset)
    if case.window is not None:
        left, right = case.window
        if right is not None:
            keep = keep.tril(diagonal=offset + right)
        if left is not None:
            keep = keep.triu(diagonal=offset - left)
    return keep


def pytorch_covers(case: Case) -> bool:
    """Tell whether F.scaled_dot_product_attention can run this case (all but softcap)."""
    return case.softcap is None


def pytorch_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, case: Case
) -> tuple[torch.Tensor, str]:
    """Run PyTorch's scaled_dot_product_attention with the case's options.

    Returns the output and how the options were passed. A lone isCausal uses
    PyTorch's own is_causal (upper-left) or causal_lower_right (lower-right).
    Otherwise is_causal cannot be combined with attn_mask in PyTorch, so the
    causal and window pattern from `tril_triu_pattern` is ANDed with the
    keep-mask into a boolean attn_mask. With a bias, attn_mask is the float
    bias plus -inf where that keep pattern drops a key.
    """
    L, S = q.shape[-2], k.shape[-2]
    kwargs: dict[str, Any] = {}
    if case.scale is not None:
        kwargs["scale"] = case.scale
    if case.mask is None and case.bias is None and case.window is None:
        if case.is_causal and case.alignment == "lower-right":
            with warnings.catch_warnings():
                # PyTorch warns that L > S gives NaN rows, but 2.13 returns 0
                # there. compute_expected asserts agreement with the explicit path.
                warnings.simplefilter("ignore", UserWarning)
                attn_mask = causal_lower_right(L, S)
            return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, **kwargs), (
                "attn_mask=causal_lower_right(L, S)"
            )
        output = F.scaled_dot_product_attention(q, k, v, is_causal=case.is_causal, **kwargs)
        return output, f"is_causal={case.is_causal}"
    keep = tril_triu_pattern(case, L, S)
    if case.mask is not None:
        keep = keep & case.mask
    if case.bias is None:
        output = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, **kwargs)
        return output, "boolean attn_mask (keep-mask AND tril/triu pattern)"
    minus_inf = torch.tensor(-math.inf, dtype=DTYPE)
    attn_mask = case.bias + torch.where(keep, torch.tensor(0.0, dtype=DTYPE), minus_inf)
    output = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, **kwargs)
    return output, "float attn_mask (bias, -inf where keep-mask AND tril/triu pattern drop)"


def gradients(fn, q, k, v, d_output) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Return fn's output and the gradients of sum(output * d_output)."""
    q = q.detach().clone().requires_grad_(True)
    k = k.detach().clone().requires_grad_(True)
    v = v.detach().clone().requires_grad_(True)
    output = fn(q, k, v)
    if output.numel() > 0:
        (output * d_output).sum().backward()
    grads = {}
    for name, tensor in (("dQ", q), ("dK", k), ("dV", v)):
        grads[name] = tensor.grad if tensor.grad is not None else torch.zeros_like(tensor)
    return output.detach(), grads


def assert_close(name: str, actual: torch.Tensor, expected: torch.Tensor, label: str) -> None:
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: {label} shape {list(actual.shape)} != {list(expected.shape)}")
    if actual.numel() == 0:
        return
    difference = (actual - expected).abs().max().item()
    if not difference <= AGREEMENT_TOLERANCE:
        raise AssertionError(f"{name}: {label} differs by {difference:.3e} (> {AGREEMENT_TOLERANCE})")


def output_shape(case: Case) -> tuple[int, ...]:
    batch = torch.broadcast_shapes(case.q.shape[:-2], case.k.shape[:-2], case.v.shape[:-2])
    return (*batch, case.q.shape[-2], case.v.shape[-1])


def remove_key(case: Case, index: int) -> Case:
    """Return a copy of the case without key `index` (in K, V, mask and bias)."""

    def drop(tensor: torch.Tensor | None, dim: int) -> torch.Tensor | None:
        if tensor is None or tensor.shape[dim] == 1:
            return tensor
        kept = [position for position in range(tensor.shape[dim]) if position != index]
        return tensor.index_select(dim, torch.tensor(kept))

    reduced = Case(**{**case.__dict__})
    reduced.k = drop(case.k, -2)
    reduced.v = drop(case.v, -2)
    reduced.mask = drop(case.mask, -1)
    reduced.bias = drop(case.bias, -1)
    reduced.poisoned_key = None
    return reduced


def insert_zero_key(gradient: torch.Tensor, index: int) -> torch.Tensor:
    """Insert a zero row at key position `index` of a dK or dV gradient."""
    zero_row = torch.zeros(*gradient.shape[:-2], 1, gradient.shape[-1], dtype=DTYPE)
    return torch.cat([gradient[..., :index, :], zero_row, gradient[..., index:, :]], dim=-2)


def compute_expected(case: Case) -> tuple[dict[str, torch.Tensor], str, str]:
    """Return the expected tensors, the reference name and the cross-check note."""
    if case.d_output is None:
        case.d_output = randn(*output_shape(case))

    if case.poisoned_key is not None:
        # The poisoned key's NaN would reach the gradients through 0 * NaN in
        # autograd; dotattn must behave as if the key were absent.
        reduced = remove_key(case, case.poisoned_key)
        reduced.d_output = case.d_output
        expected, reference, note = compute_expected(reduced)
        # The poisoned forward pass gives finite weights that match once the key
        # is dropped. Its output is NaN (0 * NaN in weights @ V), which is why the
        # expected output comes from the reduced case.
        poisoned = reference_attention(case.q, case.k, case.v, case)
        index = case.poisoned_key
        weights_without_key = torch.cat(
            [poisoned["weights"][..., :index], poisoned["weights"][..., index + 1 :]], dim=-1
        )
        assert_close(case.name, weights_without_key, expected["weights"], "weights without the key")
        assert (poisoned["weights"][..., index] == 0).all()
        expected["weights"] = poisoned["weights"].detach()
        expected["masked"] = poisoned["masked"].detach()
        expected["keep"] = poisoned["keep"]
        expected["dK"] = insert_zero_key(expected["dK"], case.poisoned_key)
        expected["dV"] = insert_zero_key(expected["dV"], case.poisoned_key)
        del expected["scores"], expected["scaled"]
        note = f"{note}; then key {case.poisoned_key} removed from K, V, mask and bias"
        return expected, reference, note

    steps = reference_attention(case.q, case.k, case.v, case)
    explicit_output, explicit_grads = gradients(
        lambda q, k, v: reference_attention(q, k, v, case)["output"],
        case.q,
        case.k,
        case.v,
        case.d_output,
    )
    expected = {name: tensor.detach() for name, tensor in steps.items()}
    expected.update(explicit_grads)
    assert_close(case.name, explicit_output, expected["output"], "output")

    if not pytorch_covers(case):
        return expected, EXPLICIT_NAME, f"{SDPA_NAME} has no softcap"

    call_notes: list[str] = []

    def run_pytorch(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        output, how = pytorch_attention(q, k, v, case)
        call_notes.append(how)
        return output

    torch_output, torch_grads = gradients(run_pytorch, case.q, case.k, case.v, case.d_output)
    how = call_notes[0]
    if torch_output.shape != explicit_output.shape:
        # PyTorch 2.13 returns a wrongly broadcast shape for some S = 0 inputs
        # (for example Q [2, 1, 3, 4] with K [1, 3, 0, 4] gives [2, 1, 3, 2]).
        return (
            expected,
            EXPLICIT_NAME,
            f"{SDPA_NAME} ({how}) returned shape {list(torch_output.shape)}, "
            f"expected {list(explicit_output.shape)}",
        )
    assert_close(case.name, torch_output, explicit_output, f"{SDPA_NAME} vs explicit output")
    for name, gradient in torch_grads.items():
        assert_close(case.name, gradient, explicit_grads[name], f"{SDPA_NAME} vs explicit {name}")
    expected["output"] = torch_output
    expected.update(torch_grads)
    return expected, SDPA_NAME, f"{how}; explicit path agrees to {AGREEMENT_TOLERANCE}"


# ---------------------------------------------------------------------------
# JSON encoding


def encode_number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def encode_tensor(tensor: torch.Tensor) -> dict[str, Any]:
    flat = tensor.detach().reshape(-1)
    if flat.dtype == torch.bool:
        data = [1 if value else 0 for value in flat.tolist()]
    else:
        data = [encode_number(value) for value in flat.to(DTYPE).tolist()]
    return {"shape": list(tensor.shape), "data": data}


def encode_case(case: Case) -> dict[str, Any]:
    expected, reference, note = compute_expected(case)
    options: dict[str, Any] = {}
    if case.is_causal:
        options["isCausal"] = True
    if case.alignment is not None:
        options["alignment"] = case.alignment
    if case.window is not None:
        options["window"] = list(case.window)
    if case.scale is not None:
        options["scale"] = case.scale
    if case.bias is not None:
        options["bias"] = encode_tensor(case.bias)
    if case.softcap is not None:
        options["softcap"] = case.softcap
    order = ("output", "weights", "dQ", "dK", "dV", "scores", "scaled", "masked", "keep")
    return {
        "name": case.name,
        "description": case.description,
        "reference": reference,
        "crossCheck": note,
        "inputs": {
            "q": encode_tensor(case.q),
            "k": encode_tensor(case.k),
            "v": encode_tensor(case.v),
            "dOutput": encode_tensor(case.d_output),
            "mask": encode_tensor(case.mask) if case.mask is not None else None,
        },
        "options": options,
        "expected": {name: encode_tensor(expected[name]) for name in order if name in expected},
    }


FORMAT_NOTE = (
    "Generated by scripts/gen_sdpa_vectors.py; do not edit by hand. "
    "Each tensor is {shape, data} with data flat in row-major order, float64 at full "
    "precision. Non-finite numbers are the strings 'NaN', 'Infinity', '-Infinity'. "
    "Masks and 'keep' hold 0/1 (1 keeps). Options use dotattn's names. "
    "dQ, dK, dV are the gradients of sum(output * dOutput)."
)


# ---------------------------------------------------------------------------
# The cases


def build_cases() -> list[Case]:
    cases: list[Case] = []

    def add(group: str, name: str, description: str, q, k, v, **options) -> None:
        cases.append(Case(group, name, description, q, k, v, **options))

    # --- shapes -------------------------------------------------------------
    g = "shapes"
    add(g, "no leading dims", "Q [3, 4], K [5, 4], V [5, 4]: L != S", randn(3, 4), randn(5, 4), randn(5, 4))
    add(g, "batch dim", "Q, K, V [2, 4, 3]: L = S", randn(2, 4, 3), randn(2, 4, 3), randn(2, 4, 3))
    add(
        g,
        "batch and heads",
        "Q [2, 2, 4, 5], K [2, 2, 3, 5], V [2, 2, 3, 2]",
        randn(2, 2, 4, 5),
        randn(2, 2, 3, 5),
        randn(2, 2, 3, 2),
    )
    add(
        g,
        "broadcast leading dims",
        "Q [2, 1, 3, 4] against K, V [1, 3, 5, .]",
        randn(2, 1, 3, 4),
        randn(1, 3, 5, 4),
        randn(1, 3, 5, 2),
    )
    add(
        g,
        "broadcast ranks",
        "Q [2, 3, 4, 3] against K [5, 3] and V [5, 2] without leading dims",
        randn(2, 3, 4, 3),
        randn(5, 3),
        randn(5, 2),
    )
    add(
        g,
        "broadcast value only",
        "Q, K [2, 3, 4] against V [1, 4, 5]",
        randn(2, 3, 4),
        randn(2, 4, 4),
        randn(1, 4, 5),
    )
    add(g, "E != Ev", "Q [3, 2], K [4, 2], V [4, 5]", randn(3, 2), randn(4, 2), randn(4, 5))
    add(g, "L = 1", "one query: Q [2, 1, 4], K [2, 5, 4]", randn(2, 1, 4), randn(2, 5, 4), randn(2, 5, 3))
    add(g, "S = 1", "one key: Q [2, 4, 3], K [2, 1, 3]", randn(2, 4, 3), randn(2, 1, 3), randn(2, 1, 2))
    add(g, "L = 0", "no queries: Q [2, 0, 4]", randn(2, 0, 4), randn(2, 3, 4), randn(2, 3, 2))
    add(g, "S = 0", "no keys: every row is fully masked, output 0", randn(2, 3, 4), randn(2, 0, 4), randn(2, 0, 2))
    add(
        g,
        "S = 0 broadcast",
        "no keys with broadcast leading dims: Q [2, 1, 3, 4], K [1, 3, 0, 4]",
        randn(2, 1, 3, 4),
        randn(1, 3, 0, 4),
        randn(1, 3, 0, 2),
    )
    add(g, "L = 0 and S = 0", "Q [0, 3], K [0, 3], V [0, 2]", randn(0, 3), randn(0, 3), randn(0, 2))
    add(g, "Ev = 0", "V [4, 0]: empty output rows", randn(3, 4), randn(4, 4), randn(4, 0))
    add(g, "E = 0 with scale", "E = 0 and scale 0.5: all scores 0, uniform weights", randn(3, 0), randn(4, 0), randn(4, 2), scale=0.5)
    add(
        g,
        "large scores",
        "inputs times 6: scores near 100, softmax close to one-hot",
        randn(2, 4, 4, multiplier=6.0),
        randn(2, 5, 4, multiplier=6.0),
        randn(2, 5, 3),
    )

    # --- masks --------------------------------------------------------------
    g = "masks"
    mask = random_keep(4, 5)
    mask[2, :] = False  # a fully masked query row
    mask[:, 3] = False  # a key masked for every query
    mask[0, 0] = True
    add(
        g,
        "mask (L, S)",
        "mask [4, 5] on Q [2, 3, 4, 4]; row 2 fully masked, key 3 masked for all",
        randn(2, 3, 4, 4),
        randn(2, 3, 5, 4),
        randn(2, 3, 5, 3),
        mask=mask,
    )
    add(
        g,
        "mask (1, S)",
        "mask [1, 5] broadcast over queries",
        randn(2, 3, 4),
        randn(2, 5, 4),
        randn(2, 5, 2),
        mask=torch.tensor([[True, False, True, True, False]]),
    )
    mask = random_keep(2, 1, 4, 5)
    mask[1, 0, 1, :] = False
    mask[0, 0, :, 2] = False
    add(
        g,
        "mask (B, 1, L, S)",
        "mask [2, 1, 4, 5] broadcast over heads; batch 1 row 1 fully masked",
        randn(2, 3, 4, 4),
        randn(2, 3, 5, 4),
        randn(2, 3, 5, 2),
        mask=mask,
    )
    add(
        g,
        "mask all false",
        "every position masked: weights, output and gradients are 0",
        randn(2, 3, 4),
        randn(2, 4, 4),
        randn(2, 4, 2),
        mask=torch.zeros(3, 4, dtype=torch.bool),
    )
    add(
        g,
        "mask keeps one key",
        "each row keeps exactly one key: weights are one-hot",
        randn(4, 3),
        randn(4, 3),
        randn(4, 2),
        mask=torch.eye(4, dtype=torch.bool).flip(1),
    )

    # --- causal -------------------------------------------------------------
    g = "causal"
    for alignment in ("upper-left", "lower-right"):
        for L, S in ((3, 5), (4, 4), (5, 3)):
            if L < S:
                relation = "L < S"
            elif L == S:
                relation = "L = S"
            else:
                relation = "L > S"
            note = ""
            if alignment == "lower-right" and L > S:
                note = "; queries 0 and 1 see no key and give 0"
            add(
                g,
                f"causal {alignment} {relation}",
                f"isCausal, alignment {alignment}, L = {L}, S = {S}{note}",
                randn(2, L, 4),
                randn(2, S, 4),
                randn(2, S, 3),
                is_causal=True,
                alignment=alignment,
            )
    add(
        g,
        "causal default alignment",
        "isCausal without alignment means upper-left",
        randn(2, 3, 4),
        randn(2, 5, 4),
        randn(2, 5, 3),
        is_causal=True,
    )
    add(
        g,
        "causal decode step",
        "L = 1, S = 5, lower-right: the new query sees every cached key",
        randn(2, 1, 4),
        randn(2, 5, 4),
        randn(2, 5, 2),
        is_causal=True,
        alignment="lower-right",
    )
    add(
        g,
        "causal S = 0",
        "isCausal with no keys",
        randn(3, 4),
        randn(0, 4),
        randn(0, 2),
        is_causal=True,
    )

    # --- window -------------------------------------------------------------
    g = "window"
    window_cases = (
        ([1, 1], "upper-left", 5, 5),
        ([1, 1], "lower-right", 3, 6),
        ([2, 0], "upper-left", 5, 4),
        ([2, 0], "lower-right", 4, 6),
        ([None, 1], "upper-left", 5, 4),
        ([None, 1], "lower-right", 3, 5),
        ([1, None], "upper-left", 4, 5),
        ([1, None], "lower-right", 3, 6),
        ([0, 0], "upper-left", 4, 4),
        ([None, None], "upper-left", 3, 4),
        ([1, 0], "lower-right", 6, 3),
    )
    for (left, right), alignment, L, S in window_cases:
        shown = f"[{'null' if left is None else left}, {'null' if right is None else right}]"
        add(
            g,
            f"window {shown} {alignment} L={L} S={S}",
            f"window {shown}, alignment {alignment}, L = {L}, S = {S}",
            randn(2, L, 3),
            randn(2, S, 3),
            randn(2, S, 2),
            window=(left, right),
            alignment=alignment,
        )

    # --- options ------------------------------------------------------------
    g = "options"
    add(g, "scale 0.3", "custom scale 0.3", randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 2), scale=0.3)
    add(g, "scale 2.5", "custom scale 2.5 (sharper than default)", randn(3, 4), randn(4, 4), randn(4, 3), scale=2.5)
    bias = randn(4, 5)
    bias[1, 2] = -math.inf
    bias[3, :] = -math.inf  # a row fully masked by the bias alone
    add(
        g,
        "bias with -inf",
        "bias [4, 5] with -inf entries and a fully -inf row 3",
        randn(2, 4, 3),
        randn(2, 5, 3),
        randn(2, 5, 2),
        bias=bias,
    )
    bias = randn(2, 1, 3, 4)
    bias[0, 0, :, 1] = -math.inf
    add(
        g,
        "bias broadcast (B, 1, L, S)",
        "bias [2, 1, 3, 4] broadcast over heads, -inf at key 1 in batch 0",
        randn(2, 2, 3, 4),
        randn(2, 2, 4, 4),
        randn(2, 2, 4, 3),
        bias=bias,
    )
    add(
        g,
        "softcap 2",
        "softcap 2 on large scores: capped scores stay in (-2, 2)",
        randn(2, 3, 4, multiplier=3.0),
        randn(2, 4, 4, multiplier=3.0),
        randn(2, 4, 2),
        softcap=2.0,
    )
    add(
        g,
        "softcap 50 with scale",
        "softcap 50 with scale 0.7: close to no cap",
        randn(3, 4),
        randn(5, 4),
        randn(5, 2),
        softcap=50.0,
        scale=0.7,
    )

    # --- combinations -------------------------------------------------------
    g = "combinations"
    mask = random_keep(4, 5)
    mask[1, :2] = False  # with upper-left causal, row 1 is fully masked
    add(
        g,
        "mask and causal upper-left",
        "mask AND isCausal; row 1 loses its only causal keys to the mask",
        randn(2, 4, 3),
        randn(2, 5, 3),
        randn(2, 5, 2),
        mask=mask,
        is_causal=True,
    )
    add(
        g,
        "mask and causal lower-right",
        "mask AND isCausal lower-right, L = 3, S = 5",
        randn(2, 3, 3),
        randn(2, 5, 3),
        randn(2, 5, 2),
        mask=random_keep(3, 5),
        is_causal=True,
        alignment="lower-right",
    )
    bias = randn(3, 4)
    bias[0, 3] = -math.inf
    add(
        g,
        "bias and mask",
        "bias with a -inf entry plus a keep-mask",
        randn(2, 3, 4),
        randn(2, 4, 4),
        randn(2, 4, 3),
        mask=torch.tensor([[True, True, False, True]]),
        bias=bias,
    )
    add(
        g,
        "softcap and window",
        "softcap 1.5 with window [1, 1] lower-right",
        randn(2, 4, 3, multiplier=2.0),
        randn(2, 5, 3, multiplier=2.0),
        randn(2, 5, 2),
        softcap=1.5,
        window=(1, 1),
        alignment="lower-right",
    )
    add(
        g,
        "causal and window",
        "isCausal with window [2, 3]: causality cuts the right side to 0",
        randn(5, 3),
        randn(5, 3),
        randn(5, 2),
        is_causal=True,
        window=(2, 3),
    )
    bias = randn(1, 4, 6)
    bias[0, 2, 4] = -math.inf
    add(
        g,
        "all options",
        "mask, isCausal lower-right, window [2, null], scale 0.6, bias, softcap 3",
        randn(2, 2, 4, 3),
        randn(2, 1, 6, 3),
        randn(2, 1, 6, 4),
        mask=random_keep(2, 1, 4, 6, keep_probability=0.8),
        is_causal=True,
        alignment="lower-right",
        window=(2, None),
        scale=0.6,
        bias=bias,
        softcap=3.0,
    )

    # --- keys masked for every query holding NaN or Infinity -----------------
    g = "nonfinite"
    k, v = randn(2, 5, 4), randn(2, 5, 3)
    k[:, 2, :] = math.nan
    v[:, 2, :] = math.nan
    mask = random_keep(4, 5, keep_probability=0.8)
    mask[:, 2] = False
    mask[:, 0] = True
    add(
        g,
        "NaN at a masked key",
        "K and V rows of key 2 are NaN and the mask drops key 2 for every query",
        randn(2, 4, 4),
        k,
        v,
        mask=mask,
        poisoned_key=2,
    )
    k, v = randn(2, 5, 4), randn(2, 5, 3)
    k[:, 1, :] = math.inf
    v[:, 1, :] = -math.inf
    add(
        g,
        "Infinity at a masked key",
        "K row of key 1 is +Infinity, V row is -Infinity, the mask drops key 1",
        randn(2, 3, 4),
        k,
        v,
        mask=torch.tensor([[True, False, True, True, True]]),
        poisoned_key=1,
    )
    k, v = randn(3, 5, 3), randn(3, 5, 2)
    k[:, 4, :] = math.nan
    v[:, 4, :] = math.nan
    add(
        g,
        "NaN at a causally hidden key",
        "upper-left isCausal with L = 4, S = 5 hides key 4, whose K and V are NaN",
        randn(3, 4, 3),
        k,
        v,
        is_causal=True,
        poisoned_key=4,
    )
    return cases


def main() -> None:
    cases = build_cases()
    generator_info = {
        "script": "scripts/gen_sdpa_vectors.py",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "seed": SEED,
        "generated": datetime.date.today().isoformat(),
    }
    groups: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(encode_case(case))

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    total_bytes = 0
    for group, encoded in groups.items():
        path = OUTPUT_DIR / f"{group}.json"
        document = {"format": FORMAT_NOTE, "generator": generator_info, "cases": encoded}
        text = json.dumps(document, allow_nan=False, separators=(",", ":")) + "\n"
        path.write_text(text)
        total_bytes += len(text)
        covered = sum(1 for case in encoded if case["reference"] == SDPA_NAME)
        print(f"{path.relative_to(OUTPUT_DIR.parent.parent.parent)}: {len(encoded)} cases, "
              f"{covered} from {SDPA_NAME}, {len(text)} bytes")
    print(f"{len(cases)} cases, {total_bytes} bytes, torch {torch.__version__}, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
