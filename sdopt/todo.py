"""Token downsampling (ToDo, Smith et al., arXiv 2402.13573) for the UNet's self-attention, written to export.

In the widest self-attention layers every token still asks (queries keep full length), but keys and values come
from the token grid downsampled by `factor` in each direction (factor 2: 4x fewer). Unlike token merging there
is no similarity matrix, no choice per input and nothing to unmerge: a strided view of the grid (the nearest
token of each factor x factor cell) before the key and value projections, which traces to one static graph.
"""
import math

from torch import nn

from .errors import BadArgument
from .tome import AUTO_REACH, LatentSize, TokenMerged, reach

TODO_FACTORS = (2, 4)
TODO_DOWNSAMPLES = (1, 2, 4, 8)


def check_todo(factor: int, max_downsample: int) -> None:
    if factor not in TODO_FACTORS:
        raise BadArgument(f"todo_factor {factor!r} is not one of {TODO_FACTORS} (keys and values on a grid that "
                          f"many times coarser in each direction)")
    if max_downsample != AUTO_REACH and max_downsample not in TODO_DOWNSAMPLES:
        raise BadArgument(f"todo_max_downsample {max_downsample!r} is not one of {TODO_DOWNSAMPLES} or {AUTO_REACH} "
                          f"(how far below the latent's resolution blocks still downsample)")


def check_grid(factor: int, max_downsample: int, height: int, width: int) -> None:
    """Every grid ToDo reaches must split into whole factor x factor cells (a latent of height x width)."""
    for downsample in (d for d in TODO_DOWNSAMPLES if d <= max_downsample):
        rows, cols = -(-height // downsample), -(-width // downsample)
        if rows % factor or cols % factor:
            raise BadArgument(f"todo_factor {factor} does not divide the {rows}x{cols} token grid at 1/{downsample} "
                              f"of the {height}x{width} latent; pick a factor that does, or a smaller "
                              f"todo_max_downsample")
        if rows == 1 and cols == 1:
            break


class DownsampledKeys(nn.Module):
    """Wraps a block's self-attention: keys and values from the strided grid, queries from every token. Notes the
    lengths it used: the proof that downsampling took effect."""

    def __init__(self, inner: nn.Module, factor: int, max_downsample: int, latent: LatentSize):
        super().__init__()
        self.inner, self.factor, self.max_downsample, self.latent = inner, factor, max_downsample, latent
        self.queries = self.keys = None

    def forward(self, hidden_states, encoder_hidden_states=None, *args, **kwargs):
        batch, tokens, channels = (int(v) for v in hidden_states.shape)
        height, width = self.latent.size
        downsample = round(math.sqrt(height * width / tokens))
        self.queries = self.keys = tokens
        if encoder_hidden_states is not None or downsample > self.max_downsample:
            return self.inner(hidden_states, encoder_hidden_states, *args, **kwargs)
        rows, cols = -(-height // downsample), -(-width // downsample)
        if rows % self.factor or cols % self.factor:
            check_grid(self.factor, downsample, height, width)  # raises, naming the grid
        grid = hidden_states.reshape(batch, rows, cols, channels)
        keys = grid[:, ::self.factor, ::self.factor, :].reshape(batch, -1, channels)
        self.keys = int(keys.shape[1])
        return self.inner(hidden_states, keys, *args, **kwargs)


def apply_todo(unet: nn.Module, factor: int = 2, max_downsample: int | str = AUTO_REACH) -> list[DownsampledKeys]:
    """Patch every transformer block's self-attention of a diffusers UNet in place; returns the wrappers."""
    check_todo(factor, max_downsample)
    max_downsample = reach(max_downsample, unet.config)
    from diffusers.models.attention import BasicTransformerBlock
    latent = LatentSize()
    unet.register_forward_pre_hook(latent.remember, with_kwargs=True)
    wrappers = []
    for block in [m for m in unet.modules() if isinstance(m, BasicTransformerBlock)]:
        if isinstance(block.attn1, TokenMerged):
            raise BadArgument("token downsampling and token merging both rewrite self-attention's tokens: pick one")
        block.attn1 = DownsampledKeys(block.attn1, factor, max_downsample, latent)
        wrappers.append(block.attn1)
    return wrappers
