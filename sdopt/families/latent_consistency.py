"""Latent Consistency Models (LCM): an SD-1.x pipeline whose UNet was distilled to sample in 2-8 steps with
`LCMScheduler`, the guidance scale given to it as an embedding (`timestep_cond`) instead of a batch of two."""
from .base import Architecture, Family, Sampling
from .stable_diffusion import BUILTINS as SD_BUILTINS
from .stable_diffusion import SCHEDULER as SD_SCHEDULER
from .stable_diffusion import write_builtin

_TINY = SD_BUILTINS["tiny"]
BUILTINS = {
    "tiny-lcm": Architecture(unet=_TINY.unet | {"time_cond_proj_dim": 32}, vae=_TINY.vae, text=_TINY.text,
                             resolution=_TINY.resolution,
                             notes="tiny with an LCM UNet (guidance embedding) and LCMScheduler, seeded random weights: "
                                   "for tests"),
}
SCHEDULER = {k: v for k, v in SD_SCHEDULER.items() if k not in ("skip_prk_steps",)} | {
    "_class_name": "LCMScheduler", "original_inference_steps": 50, "timestep_scaling": 10.0}

FAMILY = Family(
    name="lcm", title="Latent Consistency Model (SD-1.x)",
    pipeline_classes=("LatentConsistencyModelPipeline",),
    diffusers_pipeline="LatentConsistencyModelPipeline", optimum_pipeline="OVLatentConsistencyModelPipeline",
    genai_index_classes={"text_encoder": "CLIPTextModel", "unet": "UNet2DConditionModel", "vae": "AutoencoderKL"},
    latent_channels=4, vae_scale=8,
    sampling=Sampling(guidance=8.5, scheduler="lcm", guidance_mode="embedded", steps=4),  # diffusers' LCM default
    denoiser_inputs=("sample", "timestep", "encoder_hidden_states", "timestep_cond"),
    scheduler_config=SCHEDULER, builtins=BUILTINS, write_builtin=write_builtin,
    unsupported_stages={
        "lcm": "is a consistency model already: it samples in a few steps as it is",
        "qat": "trains without the guidance embedding LCM's UNet takes; PTQ is the int8 route",
        "deepcache": "runs the project's own denoising loop, which is SD-1.x's (classifier-free guidance as a batch "
                     "of two, no guidance embedding)",
    })
