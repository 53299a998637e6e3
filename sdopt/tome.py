"""Token Merging (ToMe) for the UNet's transformer blocks, written to export to OpenVINO.

The idea is tomesd's (Bolya & Hoffman): in the highest-resolution transformer blocks, merge the r source
tokens most similar to a destination token before self-attention (optionally cross-attention and the MLP too),
run the layer over fewer tokens, then copy results back ("unmerge"); the residual stream keeps every token.
As in tomesd, one plan per block, from the block's input, serves all of its merged layers. What differs, so
that the traced graph is static and every decision stays in it:
- destinations are a fixed grid (the top-left token of every 2x2 cell), never random;
- the top-r sources by cosine similarity are chosen by the graph itself (max, argsort -> TopK), so the IR
  decides per input, never a constant frozen from the export example;
- merging is a weighted sum (scatter-add of tokens and of counts, then a divide), not scatter_reduce(mean);
- r comes from the static token count, so shapes are static: one graph per resolution, as for any IR here.
"""
import math

import torch
from torch import nn

from .errors import BadArgument

TOME_MAX_RATIO = 0.75  # the non-destination share of tokens (3 of every 4): no more can be merged
TOME_DOWNSAMPLES = (1, 2, 4, 8)
# A token method's reach left to the model: its highest-resolution self-attention (1 on SD 1.x/2.x, 2 on SDXL,
# whose first down block has none), the blocks tomesd and ToDo aim at.
AUTO_REACH = "auto"


def check_tome(ratio: float, max_downsample: int) -> None:
    """ToMe's limits, for recipes and for apply_tome called directly."""
    if not 0 <= ratio <= TOME_MAX_RATIO:
        raise BadArgument(f"tome_ratio {ratio} is outside [0, {TOME_MAX_RATIO}] (only non-destination tokens, "
                          f"3 of every 4, can merge)")
    if max_downsample != AUTO_REACH and max_downsample not in TOME_DOWNSAMPLES:
        raise BadArgument(f"tome_max_downsample {max_downsample} is not one of {TOME_DOWNSAMPLES} or {AUTO_REACH} "
                          f"(how far below the latent's resolution blocks still merge)")


def attention_levels(unet_config) -> list[int]:
    """How far below the latent's resolution each down level with self-attention sits (a diffusers UNet config)."""
    return [2 ** index for index, kind in enumerate(unet_config.get("down_block_types", ())) if "Attn" in kind]


def reach(max_downsample, unet_config) -> int:
    """`auto` made concrete for this UNet: its highest-resolution self-attention level (1 if it has none, which
    `reach_refusal` refuses before any build)."""
    if max_downsample != AUTO_REACH:
        return max_downsample
    return next(iter(attention_levels(unet_config)), 1)


def reach_refusal(method: str, option: str, max_downsample: int, unet_config: dict) -> str | None:
    """Why a token method set to reach blocks at most `max_downsample` below the latent's resolution would change
    nothing in this UNet (None: it reaches some self-attention). SDXL's first attention is 2x below it."""
    levels = attention_levels(unet_config)
    if not levels:
        return f"{method} rewrites self-attention, and this UNet has none"
    if reach(max_downsample, unet_config) < levels[0]:
        return (f"{method} reaches blocks at most {max_downsample}x below the latent's resolution ({option}="
                f"{max_downsample}), where this UNet has no self-attention (its first is {levels[0]}x below): "
                f"set {option}={levels[0]}")
    return None


def merge_plan(x: torch.Tensor, height: int, width: int, r: int):
    """Bipartite soft matching on x [B, N, C] laid out on a height x width grid; returns (merge, unmerge)."""
    batch, tokens, channels = (int(v) for v in x.shape)  # Python ints: constants of the static graph
    # The grid is structure, not a decision: built in Python, it is a constant of static size in the graph.
    destinations = {row * width + col for row in range(0, height - height % 2, 2) for col in range(0, width - width % 2, 2)}
    dst_idx = torch.tensor(sorted(destinations))
    src_idx = torch.tensor([i for i in range(tokens) if i not in destinations])
    metric = x / x.norm(dim=-1, keepdim=True)
    scores = metric.index_select(1, src_idx) @ metric.index_select(1, dst_idx).transpose(-1, -2)  # [B, src, dst]
    best, best_dst = scores.max(dim=-1)
    order = best.argsort(dim=-1, descending=True)
    kept, merged = order[:, r:], order[:, :r]  # sources that stay, and those merged into a destination
    into = best_dst.gather(1, merged)  # the destination of each merged source

    n_kept, n_dst = tokens - len(dst_idx) - r, len(dst_idx)
    kept_at, merged_at = src_idx[kept], src_idx[merged]  # token positions of kept and merged sources
    # Made once per plan, not per merged layer: how many tokens each destination averages, and where every
    # token's value lives after merging (unmerge is then one row gather, not gather + concat + scatter).
    counts = torch.ones(batch, n_dst, 1, dtype=x.dtype).scatter_add(1, into.unsqueeze(-1),
                                                                   torch.ones(batch, r, 1, dtype=x.dtype))
    # At the top ratio every source merges and none is kept: zero-size tensors would follow, which OpenVINO's
    # compiler does not survive (a divide-by-zero trap in libopenvino), so the kept part is left out instead.
    placed = [(merged_at, n_kept + into), (dst_idx.expand(batch, -1), n_kept + torch.arange(n_dst).expand(batch, -1))]
    if n_kept:
        placed.insert(0, (kept_at, torch.arange(n_kept).expand(batch, -1)))
    origin = torch.zeros(batch, tokens, dtype=torch.long).scatter(
        1, torch.cat([at for at, _ in placed], dim=1), torch.cat([row for _, row in placed], dim=1))
    first_row = torch.arange(batch).unsqueeze(1)

    def rows(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """t[b, index[b]] as one Gather of whole rows of the flattened tensor: OpenVINO copies a row at a
        time, where torch.gather's GatherElements goes element by element (measured: the larger cost)."""
        b, n, c = (int(v) for v in t.shape)
        picked = t.reshape(b * n, c).index_select(0, (index + first_row * n).reshape(-1))
        return picked.reshape(b, int(index.shape[1]), c)

    def merge(t: torch.Tensor) -> torch.Tensor:
        width_ = int(t.shape[-1])
        summed = t.index_select(1, dst_idx).scatter_add(1, into.unsqueeze(-1).expand(-1, -1, width_),
                                                        rows(t, merged_at))
        return torch.cat([rows(t, kept_at), summed / counts], dim=1) if n_kept else summed / counts

    def unmerge(t: torch.Tensor) -> torch.Tensor:
        return rows(t, origin)

    return merge, unmerge


class LatentSize(nn.Module):
    """The latent's height and width, noted by a pre-hook on the UNet: a block sees only its token count.
    A module (not a closure) so that copies of the UNet, such as NNCF makes, keep hook and readers together."""

    def __init__(self):
        super().__init__()
        self.size = None

    def remember(self, unet, args, kwargs):
        sample = args[0] if args else kwargs["sample"]
        self.size = tuple(int(v) for v in sample.shape[-2:])


class BlockPlan(nn.Module):
    """One transformer block's merge plan: made from the block's input by a pre-hook, dropped after the block
    (so no tensors outlive the call). r is 0 in blocks below the resolution `max_downsample` allows."""

    def __init__(self, ratio: float, max_downsample: int, latent: LatentSize):
        super().__init__()
        self.ratio, self.max_downsample, self.latent = ratio, max_downsample, latent
        self.merge = self.unmerge = None

    def make(self, block, args, kwargs):
        hidden_states = args[0] if args else kwargs["hidden_states"]
        tokens = int(hidden_states.shape[1])
        height, width = self.latent.size
        downsample = round(math.sqrt(height * width / tokens))
        r = int(tokens * self.ratio) if downsample <= self.max_downsample else 0
        if r:
            self.merge, self.unmerge = merge_plan(hidden_states, -(-height // downsample), -(-width // downsample), r)

    def drop(self, *unused):
        self.merge = self.unmerge = None


class TokenMerged(nn.Module):
    """Wraps one layer of a block (self-attention, cross-attention or MLP): merge its input by the block's
    plan, run, unmerge. Counts the tokens it let through: the proof that merging took effect."""

    def __init__(self, inner: nn.Module, plan: BlockPlan):
        super().__init__()
        self.inner, self.plan = inner, plan
        self.tokens_in = self.tokens_out = None

    def forward(self, hidden_states, *args, **kwargs):
        self.tokens_in = int(hidden_states.shape[1])
        if self.plan.merge is None:
            self.tokens_out = self.tokens_in
            return self.inner(hidden_states, *args, **kwargs)
        merged = self.plan.merge(hidden_states)
        self.tokens_out = int(merged.shape[1])
        return self.plan.unmerge(self.inner(merged, *args, **kwargs))


def apply_tome(unet: nn.Module, ratio: float, max_downsample: int | str = AUTO_REACH, mlp: bool = False,
               crossattn: bool = False) -> list[TokenMerged]:
    """Patch every transformer block of a diffusers UNet in place; returns the wrappers (for their counts).
    Self-attention always merges; cross-attention and the MLP when asked (tomesd's merge_crossattn/merge_mlp)."""
    check_tome(ratio, max_downsample)
    max_downsample = reach(max_downsample, unet.config)
    from diffusers.models.attention import BasicTransformerBlock
    latent = LatentSize()
    unet.register_forward_pre_hook(latent.remember, with_kwargs=True)
    wrappers = []
    for block in [m for m in unet.modules() if isinstance(m, BasicTransformerBlock)]:
        block.tome_plan = plan = BlockPlan(ratio, max_downsample, latent)
        block.register_forward_pre_hook(plan.make, with_kwargs=True)
        block.register_forward_hook(plan.drop)
        for name in ["attn1"] + (["attn2"] if crossattn and block.attn2 is not None else []) + (["ff"] if mlp else []):
            wrapper = TokenMerged(getattr(block, name), plan)
            setattr(block, name, wrapper)
            wrappers.append(wrapper)
    return wrappers
