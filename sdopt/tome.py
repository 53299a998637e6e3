"""Token Merging (ToMe) for the UNet's self-attention, written to export to OpenVINO.

The idea is tomesd's (Bolya & Hoffman): before self-attention in the highest-resolution transformer blocks,
merge the r source tokens most similar to a destination token, attend over fewer tokens, then copy results
back ("unmerge"). What differs, so that the traced graph is static and every decision stays in it:
- destinations are a fixed grid (the top-left token of every 2x2 cell), never random;
- the top-r sources by cosine similarity are chosen by the graph itself (max, argsort -> TopK), so the IR
  decides per input, never a constant frozen from the export example;
- merging is a weighted sum (scatter-add of tokens and of counts, then a divide), not scatter_reduce(mean);
- r comes from the static token count, so shapes are static: one graph per resolution, as for any IR here.
The similarity is taken on the block's normalized input (what attention sees); tomesd uses the raw input.
"""
import math

import torch
from torch import nn

MAX_RATIO = 0.75  # the non-destination share of tokens: no more can be merged


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

    def expand(index, width_=channels):
        return index.unsqueeze(-1).expand(-1, -1, width_)

    def merge(t: torch.Tensor) -> torch.Tensor:
        sources, destinations = t.index_select(1, src_idx), t.index_select(1, dst_idx)
        summed = destinations.scatter_add(1, expand(into, t.shape[-1]),
                                          sources.gather(1, expand(merged, t.shape[-1])))
        counts = torch.ones_like(destinations[..., :1]).scatter_add(
            1, expand(into, 1), torch.ones_like(sources[:, :r, :1]))
        return torch.cat([sources.gather(1, expand(kept, t.shape[-1])), summed / counts], dim=1)

    def unmerge(t: torch.Tensor) -> torch.Tensor:
        width_ = t.shape[-1]
        kept_values, destinations = t[:, : kept.shape[1]], t[:, kept.shape[1]:]
        merged_values = destinations.gather(1, expand(into, width_))
        src_positions = src_idx.unsqueeze(0).expand(batch, -1)
        positions = torch.cat([src_positions.gather(1, kept), src_positions.gather(1, merged),
                               dst_idx.unsqueeze(0).expand(batch, -1)], dim=1)
        values = torch.cat([kept_values, merged_values, destinations], dim=1)
        return torch.zeros(batch, tokens, width_, dtype=t.dtype).scatter(1, expand(positions, width_), values)

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


class TokenMerged(nn.Module):
    """Wraps a block's self-attention (or MLP): merge, run, unmerge. Counts the tokens it let through."""

    def __init__(self, inner: nn.Module, ratio: float, max_downsample: int, latent: LatentSize):
        super().__init__()
        self.inner, self.ratio, self.max_downsample, self.latent = inner, ratio, max_downsample, latent
        self.tokens_in = self.tokens_out = None

    def forward(self, hidden_states, *args, **kwargs):
        tokens = int(hidden_states.shape[1])
        height, width = self.latent.size
        downsample = round(math.sqrt(height * width / tokens))
        r = int(tokens * self.ratio) if downsample <= self.max_downsample else 0
        self.tokens_in, self.tokens_out = tokens, tokens - r
        if r == 0:
            return self.inner(hidden_states, *args, **kwargs)
        merge, unmerge = merge_plan(hidden_states, -(-height // downsample), -(-width // downsample), r)
        return unmerge(self.inner(merge(hidden_states), *args, **kwargs))


def apply_tome(unet: nn.Module, ratio: float, max_downsample: int = 1, mlp: bool = False) -> list[TokenMerged]:
    """Patch every transformer block of a diffusers UNet in place; returns the wrappers (for their counts).
    Blocks below the resolution `max_downsample` allows pass their tokens through unchanged."""
    if not 0 <= ratio <= MAX_RATIO:
        raise ValueError(f"ToMe ratio {ratio} is outside [0, {MAX_RATIO}]: only non-destination tokens can merge")
    if max_downsample not in (1, 2, 4, 8):
        raise ValueError(f"max_downsample {max_downsample} is not 1, 2, 4 or 8")
    from diffusers.models.attention import BasicTransformerBlock
    latent = LatentSize()
    unet.register_forward_pre_hook(latent.remember, with_kwargs=True)
    wrappers = []
    for block in [m for m in unet.modules() if isinstance(m, BasicTransformerBlock)]:
        names = ["attn1"] + (["ff"] if mlp else [])
        for name in names:
            wrapper = TokenMerged(getattr(block, name), ratio, max_downsample, latent)
            setattr(block, name, wrapper)
            wrappers.append(wrapper)
    return wrappers
