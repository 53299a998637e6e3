"""Stable Diffusion 1.x/2.x: one CLIP text encoder, a UNet conditioned on its hidden states, a 4-channel VAE with
8x downsampling, classifier-free guidance as a batch of two. The tiny, sd15-arch and shapes models are of it."""
from pathlib import Path
from typing import Callable

from ..tokenizer import MAX_LENGTH
from .base import Architecture, Family, Sampling, write_seeded

_ATTN_DOWN, _ATTN_UP = "CrossAttnDownBlock2D", "CrossAttnUpBlock2D"
BUILTINS = {
    "tiny": Architecture(
        unet=dict(block_out_channels=(32, 64, 64), layers_per_block=1, cross_attention_dim=64,
                  attention_head_dim=8, down_block_types=(_ATTN_DOWN, _ATTN_DOWN, "DownBlock2D"),
                  up_block_types=("UpBlock2D", _ATTN_UP, _ATTN_UP), sample_size=16),
        vae=dict(block_out_channels=(32, 32, 64, 64), layers_per_block=1, sample_size=128),
        text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  projection_dim=64),
        resolution=128,
        notes="SD-1.x block structure at small widths, seeded random weights: fast, for tests and smoke runs"),
    "sd15-arch": Architecture(
        unet=dict(block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, cross_attention_dim=768,
                  attention_head_dim=8, down_block_types=(_ATTN_DOWN, _ATTN_DOWN, _ATTN_DOWN, "DownBlock2D"),
                  up_block_types=("UpBlock2D", _ATTN_UP, _ATTN_UP, _ATTN_UP), sample_size=64),
        vae=dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, sample_size=512),
        text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                  projection_dim=768, vocab_size=49408),
        resolution=512,
        notes="real Stable Diffusion 1.5 shapes with random weights: real latency and footprint, "
              "images are noise and quality numbers meaningless"),
}
SCHEDULER = dict(_class_name="PNDMScheduler", beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                 num_train_timesteps=1000, skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)


def write_builtin(family: Family, name: str, out: Path, seed: int, say: Callable[[str], None]) -> None:
    """A built-in from code, one seed per component, saved as a diffusers folder."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    arch = family.builtins[name]
    depth = len(arch.vae["block_out_channels"])

    def parts(tokenizer) -> dict:
        text_cfg = dict(vocab_size=len(tokenizer), max_position_embeddings=MAX_LENGTH, hidden_act="quick_gelu",
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
                        pad_token_id=tokenizer.pad_token_id) | arch.text
        return {
            "unet": lambda: UNet2DConditionModel(in_channels=family.latent_channels,
                                                 out_channels=family.latent_channels, norm_num_groups=32, **arch.unet),
            "vae": lambda: AutoencoderKL(in_channels=3, out_channels=3, latent_channels=family.latent_channels,
                                         norm_num_groups=32, down_block_types=("DownEncoderBlock2D",) * depth,
                                         up_block_types=("UpDecoderBlock2D",) * depth, **arch.vae),
            "text_encoder": lambda: CLIPTextModel(CLIPTextConfig(**text_cfg)),
        }
    write_seeded(family, name, out, seed, say, parts)


FAMILY = Family(
    name="sd", title="Stable Diffusion 1.x/2.x",
    pipeline_classes=("StableDiffusionPipeline",),
    diffusers_pipeline="StableDiffusionPipeline", optimum_pipeline="OVStableDiffusionPipeline",
    genai_index_classes={"text_encoder": "CLIPTextModel", "unet": "UNet2DConditionModel", "vae": "AutoencoderKL"},
    latent_channels=4, vae_scale=8,
    sampling=Sampling(guidance=7.5, scheduler="pndm"),  # diffusers' defaults, what SD-1.x models are tuned for
    denoiser_inputs=("sample", "timestep", "encoder_hidden_states"),
    scheduler_config=SCHEDULER, builtins=BUILTINS, write_builtin=write_builtin)
