"""Stable Diffusion XL, base and few-step Turbo: two CLIP text encoders (the second's pooled, projected output and
the image's size and crop as "time ids" are extra UNet inputs), a UNet with no attention at full latent
resolution, and a VAE whose own scaling factor and fp32 upcast the pipeline reads from its config.

A model is guidance-distilled (Turbo: 1-4 steps, no guidance, a batch of one) when its scheduler spaces timesteps
"trailing", as SDXL-Turbo's ships; base models space them "leading" and run classifier-free guidance."""
from pathlib import Path
from typing import Callable

from ..tokenizer import MAX_LENGTH
from .base import Architecture, Family, Sampling, write_seeded

_ATTN_DOWN, _ATTN_UP = "CrossAttnDownBlock2D", "CrossAttnUpBlock2D"
BASE = Sampling(guidance=5.0, scheduler="euler", steps=20)  # diffusers' SDXL default scale
TURBO = Sampling(guidance=0.0, scheduler="euler-a", guidance_mode="off", steps=4)
TURBO_SCHEDULER = {"_class_name": "EulerAncestralDiscreteScheduler", "timestep_spacing": "trailing"}
SCHEDULER = dict(_class_name="EulerDiscreteScheduler", beta_start=0.00085, beta_end=0.012,
                 beta_schedule="scaled_linear", num_train_timesteps=1000, steps_offset=1, timestep_spacing="leading",
                 interpolation_type="linear", use_karras_sigmas=False)


def _tiny(**form) -> Architecture:
    return Architecture(
        unet=dict(block_out_channels=(32, 64), layers_per_block=1, cross_attention_dim=96,
                  attention_head_dim=(2, 4), transformer_layers_per_block=(1, 2),
                  down_block_types=("DownBlock2D", _ATTN_DOWN), up_block_types=(_ATTN_UP, "UpBlock2D"),
                  addition_time_embed_dim=8, sample_size=16),
        vae=dict(block_out_channels=(32, 32, 64, 64), layers_per_block=1, sample_size=128),
        text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  projection_dim=32, hidden_act="quick_gelu"),
        text_2=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    projection_dim=32, hidden_act="gelu"),
        resolution=128, **form)


def _arch(**form) -> Architecture:
    """SDXL 1.0's shapes: UNet 2.6 B parameters, CLIP ViT-L and OpenCLIP bigG text encoders, 1024 px native."""
    return Architecture(
        unet=dict(block_out_channels=(320, 640, 1280), layers_per_block=2, cross_attention_dim=2048,
                  attention_head_dim=(5, 10, 20), transformer_layers_per_block=(1, 2, 10),
                  down_block_types=("DownBlock2D", _ATTN_DOWN, _ATTN_DOWN),
                  up_block_types=(_ATTN_UP, _ATTN_UP, "UpBlock2D"), addition_time_embed_dim=256, sample_size=128),
        vae=dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, sample_size=1024),
        text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                  projection_dim=768, hidden_act="quick_gelu", vocab_size=49408),
        text_2=dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
                    projection_dim=1280, hidden_act="gelu", vocab_size=49408),
        resolution=1024, **form)


_TURBO = dict(scheduler=TURBO_SCHEDULER, sampling=TURBO)
_RANDOM = "random weights: images are noise and quality numbers meaningless"
BUILTINS = {
    "tiny-sdxl": _tiny(notes="SDXL block structure (two text encoders, text-time conditioning) at small widths, "
                             "seeded random weights: for tests"),
    "tiny-sdxl-turbo": _tiny(notes="tiny-sdxl as a guidance-distilled Turbo model ships (Euler ancestral, trailing "
                                   "timesteps, no guidance): for tests", **_TURBO),
    "sdxl-arch": _arch(notes=f"real SDXL 1.0 shapes (base form, 1024 px), {_RANDOM}"),
    "sdxl-turbo-arch": _arch(notes=f"real SDXL shapes in SDXL-Turbo's form (1-4 steps, no guidance), {_RANDOM}",
                             **_TURBO),
}


def sampling_rule(scheduler: dict, unet: dict) -> Sampling:
    return TURBO if scheduler.get("timestep_spacing") == "trailing" else BASE


def write_builtin(family: Family, name: str, out: Path, seed: int, say: Callable[[str], None]) -> None:
    """As Stable Diffusion's built-ins: one seed per component, saved as a diffusers folder."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    arch = family.builtins[name]
    pooled = arch.text_2["projection_dim"]
    depth = len(arch.vae["block_out_channels"])

    def parts(tokenizer) -> dict:
        special = dict(vocab_size=len(tokenizer), max_position_embeddings=MAX_LENGTH,
                       eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
                       pad_token_id=tokenizer.pad_token_id)
        return {
            "unet": lambda: UNet2DConditionModel(
                in_channels=family.latent_channels, out_channels=family.latent_channels, norm_num_groups=32,
                addition_embed_type="text_time", use_linear_projection=True,
                # the pooled text embedding and six time ids (original size, crop, target size), each embedded
                projection_class_embeddings_input_dim=pooled + 6 * arch.unet["addition_time_embed_dim"],
                **arch.unet),
            "vae": lambda: AutoencoderKL(in_channels=3, out_channels=3, latent_channels=family.latent_channels,
                                         norm_num_groups=32, down_block_types=("DownEncoderBlock2D",) * depth,
                                         up_block_types=("UpDecoderBlock2D",) * depth, scaling_factor=0.13025,
                                         force_upcast=True, **arch.vae),
            "text_encoder": lambda: CLIPTextModel(CLIPTextConfig(**special | arch.text)),
            "text_encoder_2": lambda: CLIPTextModelWithProjection(CLIPTextConfig(**special | arch.text_2)),
        }
    write_seeded(family, name, out, seed, say, parts)


FAMILY = Family(
    name="sdxl", title="Stable Diffusion XL",
    pipeline_classes=("StableDiffusionXLPipeline",),
    diffusers_pipeline="StableDiffusionXLPipeline", optimum_pipeline="OVStableDiffusionXLPipeline",
    genai_index_classes={"text_encoder": "CLIPTextModel", "text_encoder_2": "CLIPTextModelWithProjection",
                         "unet": "UNet2DConditionModel", "vae": "AutoencoderKL"},
    latent_channels=4, vae_scale=8, sampling=BASE, sampling_rule=sampling_rule,
    denoiser_inputs=("sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"),
    scheduler_config=SCHEDULER, builtins=BUILTINS, write_builtin=write_builtin,
    text_encoders=("text_encoder", "text_encoder_2"),
    unsupported_stages={
        "lcm": "distils with SD-1.x's UNet inputs only (no pooled text embedding or time ids)",
        "qat": "trains with SD-1.x's UNet inputs only (no pooled text embedding or time ids); PTQ is the int8 route",
        "deepcache": "runs the project's own denoising loop, which is SD-1.x's (no added conditioning)",
    })
