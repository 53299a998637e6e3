"""The shapes model's architecture, in diffusers' SD-1.x layout so every recipe, backend and suite takes it as is.

Sized for the world, for 2-core training and for the repository (at most 30 MB of float32 weights in all, the
text tower counted twice: in the pipeline and in the whole CLIP): a CLIP whose text tower is the pipeline's
text encoder, a VAE with two downsamplings (64x64 images -> 16x16x4 latents, tokens enough for ToMe to merge),
and a UNet with cross-attention at 16x16 and 8x8. Float32 on disk because transformers loads a float16 file as
float16, and torch-fp32 must be float32.
"""
from pathlib import Path

from ..families import STABLE_DIFFUSION as family
from ..tokenizer import write_tokenizer as write
from . import world

TEXT = dict(vocab_size=None, hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
            max_position_embeddings=16, projection_dim=128)  # vocab_size: the world tokenizer's
VISION = dict(image_size=world.SIZE, patch_size=8, hidden_size=128, intermediate_size=384, num_hidden_layers=4,
              num_attention_heads=4, projection_dim=128)
VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64, 64), layers_per_block=1,
           down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
           norm_num_groups=16, sample_size=world.SIZE)
UNET = dict(sample_size=world.SIZE // 4, in_channels=4, out_channels=4, block_out_channels=(48, 64, 96),
            layers_per_block=1, cross_attention_dim=TEXT["hidden_size"], attention_head_dim=8, norm_num_groups=16,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"))


# Sampling's classifier-free guidance scale for this model, chosen by `bench choose-guidance` on the training
# prompts, never on the held-out ones: all right on 99.6% of them at 1.5 and at 2.0, 96.5% at 3.0 (a higher scale
# pushes colours past the world's palette); the lowest within the best's interval wins, since a higher one buys
# nothing this set can see (docs/measurements/2026-12-04-shapes-guidance/).
GUIDANCE = 1.5

CONTEXT = TEXT["max_position_embeddings"]  # the longest caption is 10 tokens; SD's 77 would make every
# cross-attention 5x wider for padding alone


def write_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    write(folder, words=world.vocabulary())
    tokenizer = CLIPTokenizer.from_pretrained(str(folder), model_max_length=CONTEXT)
    tokenizer.save_pretrained(str(folder))
    return tokenizer


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


def text_encoder(clip):
    """The CLIP's text tower as a stand-alone CLIPTextModel (the pipeline's text_encoder), same weights."""
    from transformers import CLIPTextModel
    encoder = CLIPTextModel(clip.config.text_config)
    encoder.text_model.load_state_dict(clip.text_model.state_dict())
    return encoder.eval()


def write_pipeline(out: Path, clip, tokenizer, vae, unet) -> None:
    """A diffusers pipeline folder (the CLIP's text tower as its text encoder, SD's schedulers), plus the whole
    CLIP under clip/ for CLIP score."""
    pipe = family.assemble(vae=vae, text_encoder=text_encoder(clip), tokenizer=tokenizer, unet=unet,
                           scheduler=family.make_scheduler())
    pipe.save_pretrained(out, safe_serialization=True)
    clip.save_pretrained(out / "clip", safe_serialization=True)
    clip_processor(tokenizer).save_pretrained(out / "clip")


def clip_processor(tokenizer):
    """What CLIPScore loads beside the model: the tokenizer, and images taken at the world's size with the
    normalization CLIP trained on (uint8 / 127.5 - 1), not ImageNet's 224-pixel statistics."""
    from transformers import CLIPImageProcessor, CLIPProcessor
    images = CLIPImageProcessor(size={"shortest_edge": world.SIZE}, crop_size={"height": world.SIZE,
                                "width": world.SIZE}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return CLIPProcessor(image_processor=images, tokenizer=tokenizer)
