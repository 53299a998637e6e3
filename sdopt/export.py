"""Conversion of a diffusers pipeline folder to OpenVINO IR with static shapes, via optimum-intel."""
from pathlib import Path


def save_torch_fp32(source_folder: Path, out: Path) -> None:
    import torch
    from diffusers import StableDiffusionPipeline
    pipe = StableDiffusionPipeline.from_pretrained(source_folder, torch_dtype=torch.float32, safety_checker=None,
                                                   requires_safety_checker=False)
    pipe.save_pretrained(out, safe_serialization=True)


def export_openvino(torch_folder: Path, out: Path, height: int, width: int) -> None:
    from optimum.intel import OVStableDiffusionPipeline
    # load_in_8bit=False: optimum compresses weights of large models by default, which would make the FP32
    # variant silently int8.
    pipe = OVStableDiffusionPipeline.from_pretrained(torch_folder, export=True, compile=False, load_in_8bit=False)
    pipe.reshape(batch_size=1, height=height, width=width, num_images_per_prompt=1)
    pipe.save_pretrained(out)
