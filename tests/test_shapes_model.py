"""The shapes model's architecture as a pipeline folder: what every recipe and suite will load."""
import numpy as np
import torch

from sdopt.shapes import model, world
from sdopt.sources import resolve


def test_an_untrained_shapes_pipeline_loads_as_a_folder_and_draws_at_64(tmp_path):
    from diffusers import StableDiffusionPipeline
    tokenizer = model.write_tokenizer(tmp_path / "vocab")
    clip = model.clip_model(len(tokenizer), seed=0)
    out = tmp_path / "shapes"
    model.write_pipeline(out, clip, tokenizer, model.vae_model(seed=0), model.unet_model(seed=0))
    source = resolve(str(out))
    assert (source.native_resolution, source.vae_scale_factor) == (world.SIZE, 4)
    pipe = StableDiffusionPipeline.from_pretrained(out, safety_checker=None, requires_safety_checker=False)
    text = pipe.text_encoder(pipe.tokenizer(["a small red circle on the left"], return_tensors="pt").input_ids)
    with torch.no_grad():
        whole = clip.text_model(pipe.tokenizer(["a small red circle on the left"], return_tensors="pt").input_ids)
    torch.testing.assert_close(text.last_hidden_state, whole.last_hidden_state)  # the text tower, shared
    image = pipe("a small red circle on the left", num_inference_steps=2, height=64, width=64,
                 output_type="np", generator=torch.Generator().manual_seed(0)).images[0]
    assert image.shape == (world.SIZE, world.SIZE, 3) and np.isfinite(image).all()
    assert (out / "clip" / "model.safetensors").is_file()
