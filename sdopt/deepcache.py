"""Step caching (DeepCache, Ma et al., arXiv 2312.00858) as two static graphs of a diffusers UNet.

Adjacent denoising steps produce nearly the same deep features. A *full* call runs the whole UNet and also
returns the feature that enters the last up-block at the chosen branch; the *shallow* calls of the next steps
run only `conv_in`, the first `branch` layers of the first down-block, the last up-block's layers from that
branch on, and `conv_out`, joining the cached feature where the deep path would have delivered it. Branch 0
is the shallowest (DeepCache's default): only `conv_in`, the last up layer and `conv_out` run.

Both are plain modules over the UNet's own submodules, so they trace to fixed graphs (one IR each) and any patch
on those submodules (token merging, token downsampling, fake quantization) is in both. Which of the two runs at
a step is the denoising loop's choice (`is_full_step`), never the graph's.
"""
import torch
from torch import nn

from .errors import BadArgument

CACHE_INTERVAL = 3  # DeepCache's and diffusers' documented default: a full call, then two shallow ones
SHALLOW_UNET = "unet_shallow"  # in an OpenVINO artifact with step caching: the shallow graph's IR folder
STEP_FEATURE = "deepcache_feature"  # the full graph's second output and the shallow graph's fourth input


def branches(unet) -> int:
    """How many branches the UNet offers: one per layer of its last up-block."""
    return len(unet.up_blocks[-1].resnets)


def branches_of_config(config: dict) -> int:
    """`branches` from a diffusers UNet config, without loading the weights."""
    layers = config["layers_per_block"]
    layers = layers[0] if isinstance(layers, (list, tuple)) else layers  # the last up-block mirrors the first down
    return int(layers) + 1  # diffusers' up-blocks have one layer more than the down-blocks


def check_deepcache(interval: int, branch: int, available: int | None = None, steps: int | None = None) -> None:
    """The options' limits: an interval of 1 caches nothing, one above the step count never reuses."""
    if not isinstance(interval, int) or interval < 1:
        raise BadArgument(f"cache_interval must be a whole number of at least 1 (1 = every step full), got "
                          f"{interval!r}")
    if steps is not None and interval > steps:
        raise BadArgument(f"cache_interval {interval} is above the {steps} denoising steps: no step would reuse "
                          f"the cached feature; pick at most {steps}")
    if not isinstance(branch, int) or branch < 0 or (available is not None and branch >= available):
        limit = f"0 to {available - 1}" if available is not None else "0 or more"
        raise BadArgument(f"cache_branch must be {limit} (a layer of the UNet's last up-block; 0 is the "
                          f"shallowest), got {branch!r}")


def is_full_step(index: int, interval: int) -> bool:
    """The uniform schedule: the full UNet on the first step and every interval-th after it."""
    return index % interval == 0


class StepCache:
    """One generation's choice per step: the full graph on schedule (keeping its feature), the shallow graph
    with the last kept feature otherwise. `full` and `shallow` are any callables of the two graphs' signatures,
    so the same loop drives PyTorch modules and compiled IRs."""

    def __init__(self, full, shallow, interval: int):
        self.full, self.shallow, self.interval = full, shallow, interval
        self.feature = None

    def predict(self, index: int, sample, timestep, encoder_hidden_states):
        if is_full_step(index, self.interval):
            noise, self.feature = self.full(sample, timestep, encoder_hidden_states)
            return noise
        return self.shallow(sample, timestep, encoder_hidden_states, self.feature)


def _check_supported(unet) -> None:
    config = unet.config
    unsupported = [name for name in ("center_input_sample", "class_embed_type", "addition_embed_type")
                   if config.get(name)]
    if unsupported:
        raise BadArgument(f"step caching supports the SD-1.x UNet layout; this UNet sets {', '.join(unsupported)}")


class _Layers:
    """The pieces both graphs share: the time embedding, and one layer (resnet, then its attention if any)."""

    def __init__(self, unet, branch: int):
        _check_supported(unet)
        check_deepcache(1, branch, branches(unet))
        self.unet, self.branch = unet, branch
        self.first_up_layer = branches(unet) - 1 - branch  # the up layer whose input is the cached feature

    def embedding(self, sample, timestep):
        unet = self.unet
        return unet.time_embedding(unet.get_time_embed(sample=sample, timestep=timestep), None)

    @staticmethod
    def layer(block, index, hidden, embedding, encoder_hidden_states):
        hidden = block.resnets[index](hidden, embedding)
        attentions = getattr(block, "attentions", None)
        if attentions:
            hidden = attentions[index](hidden, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]
        return hidden


class FullUNet(nn.Module):
    """(sample, timestep, encoder_hidden_states) -> (noise prediction, cached feature): the UNet's own forward,
    with the hidden state entering the branch's up layer (before its skip connection is joined) as a second
    output."""

    def __init__(self, unet, branch: int = 0):
        super().__init__()
        self.unet = unet
        self.layers = _Layers(unet, branch)

    def forward(self, sample, timestep, encoder_hidden_states):
        captured = {}
        up = self.unet.up_blocks[-1]
        skip_channels = self.unet.config.block_out_channels[0]  # every skip the last up-block joins is this wide

        def keep(module, args):
            joined = args[0]
            captured["feature"] = joined[:, :joined.shape[1] - skip_channels]

        handle = up.resnets[self.layers.first_up_layer].register_forward_pre_hook(keep)
        try:
            noise = self.unet(sample, timestep, encoder_hidden_states, return_dict=False)[0]
        finally:
            handle.remove()
        return noise, captured["feature"]


class ShallowUNet(nn.Module):
    """(sample, timestep, encoder_hidden_states, feature) -> noise prediction, running only the shallow branch."""

    def __init__(self, unet, branch: int = 0):
        super().__init__()
        self.unet = unet
        self.layers = _Layers(unet, branch)

    def forward(self, sample, timestep, encoder_hidden_states, feature):
        unet, layers = self.unet, self.layers
        _run_pre_hooks(unet, (sample, timestep, encoder_hidden_states))
        embedding = layers.embedding(sample, timestep)
        hidden = unet.conv_in(sample)
        skips = [hidden]
        down = unet.down_blocks[0]
        for index in range(layers.branch):
            hidden = layers.layer(down, index, hidden, embedding, encoder_hidden_states)
            skips.append(hidden)
        hidden = feature
        up = unet.up_blocks[-1]
        for index in range(layers.first_up_layer, branches(unet)):
            hidden = torch.cat([hidden, skips.pop()], dim=1)
            hidden = layers.layer(up, index, hidden, embedding, encoder_hidden_states)
        if unet.conv_norm_out is not None:
            hidden = unet.conv_act(unet.conv_norm_out(hidden))
        return unet.conv_out(hidden)


def _run_pre_hooks(module: nn.Module, args: tuple) -> None:
    """Call the module's forward pre-hooks as its own call would: patches that learn the latent's size from the
    UNet's input (token merging) then see it on shallow calls too, which never enter the UNet's forward."""
    with_kwargs = getattr(module, "_forward_pre_hooks_with_kwargs", {})
    for key, hook in list(module._forward_pre_hooks.items()):
        hook(module, args, {}) if key in with_kwargs else hook(module, args)
