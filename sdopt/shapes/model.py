"""The shapes model's architecture, in diffusers' SD-1.x layout so every recipe, backend and suite takes it as is.

Sized for the world and for 2-core training: a CLIP whose text tower is the pipeline's text encoder, a VAE with
two downsamplings (64x64 images -> 16x16x4 latents, tokens enough for ToMe to merge), and a UNet with
cross-attention at 16x16 and 8x8.
"""
from pathlib import Path

from . import world

TEXT = dict(vocab_size=None, hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
            max_position_embeddings=77, projection_dim=128)  # vocab_size: the world tokenizer's
VISION = dict(image_size=world.SIZE, patch_size=8, hidden_size=128, intermediate_size=512, num_hidden_layers=4,
              num_attention_heads=4, projection_dim=128)
VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64, 128), layers_per_block=1,
           down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
           norm_num_groups=16, sample_size=world.SIZE)
UNET = dict(sample_size=world.SIZE // 4, in_channels=4, out_channels=4, block_out_channels=(64, 128, 192),
            layers_per_block=1, cross_attention_dim=TEXT["hidden_size"], attention_head_dim=8, norm_num_groups=16,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"))


def write_tokenizer(folder: Path):
    from ..tokenizer import write_tokenizer as write
    return write(folder, words=world.vocabulary())


def clip_model(tokenizer, seed: int):
    """The whole CLIP (text and vision towers): contrastive training, then CLIP score. The special tokens' ids
    are the tokenizer's: CLIP pools the text at its end-of-text token, and with another id every caption
    would pool at the same place."""
    import torch
    from transformers import CLIPConfig, CLIPModel
    torch.manual_seed(seed)
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)
    config = CLIPConfig(text_config={**TEXT, "vocab_size": len(tokenizer), **ids}, vision_config=VISION,
                        projection_dim=TEXT["projection_dim"])
    return CLIPModel(config)


def vae_model(seed: int):
    import torch
    from diffusers import AutoencoderKL
    torch.manual_seed(seed)
    return AutoencoderKL(**VAE)


def unet_model(seed: int):
    import torch
    from diffusers import UNet2DConditionModel
    torch.manual_seed(seed)
    return UNet2DConditionModel(**UNET)


def write_pipeline(out: Path, clip, tokenizer, vae, unet) -> None:
    """A diffusers pipeline folder (the CLIP's text tower as its text encoder, SD's schedulers), plus the whole
    CLIP under clip/ for CLIP score."""
    from diffusers import PNDMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextModel

    from ..sources import SD_SCHEDULER
    text_encoder = CLIPTextModel(clip.config.text_config)
    text_encoder.text_model.load_state_dict(clip.text_model.state_dict())
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder.eval(), tokenizer=tokenizer, unet=unet,
                                   scheduler=PNDMScheduler(**SD_SCHEDULER), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(out, safe_serialization=True)
    clip.save_pretrained(out / "clip", safe_serialization=True)
    tokenizer.save_pretrained(out / "clip")
