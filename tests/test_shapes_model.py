"""The shapes model's architecture as a pipeline folder: what every recipe and suite will load."""
import numpy as np
import torch

from sdopt.shapes import model, world
from sdopt.sources import resolve


def test_an_untrained_shapes_pipeline_loads_as_a_folder_and_draws_at_64(tmp_path):
    from diffusers import StableDiffusionPipeline
    tokenizer = model.write_tokenizer(tmp_path / "vocab")
    clip = model.clip_model(tokenizer, seed=0)
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


def test_clip_learns_the_world_on_held_out_prompts(tmp_path):
    """A few dozen contrastive steps: the loss on held-out prompts' images falls well below chance
    (log 256 = 5.55 for the fixed batch of 256)."""
    from sdopt.shapes.train_clip import ClipTraining, pixel_values, train_clip
    tokenizer = model.write_tokenizer(tmp_path / "vocab")
    clip = model.clip_model(tokenizer, seed=0)
    captions, images = world.training_mixture(4, seed=0)
    with torch.no_grad():  # captions pool at their own end-of-text token, so they embed apart even untrained
        embeds = clip(input_ids=tokenizer(captions, padding="max_length", return_tensors="pt").input_ids,
                      pixel_values=pixel_values(images)).text_embeds
    assert float(embeds.std(0).mean()) > 1e-3
    rows = []
    train_clip(clip, tokenizer, ClipTraining(steps=40, batch_size=32, warmup=10, validate_every=20), rows.append)
    held_out = {r["step"]: r["validation_loss"] for r in rows if r["validation_loss"] is not None}
    assert sorted(held_out) == [0, 20, 40] and held_out[0] > 5.0
    assert held_out[40] < 0.85 * held_out[0], held_out
    assert [r["step"] for r in rows] == list(range(41))
    assert pixel_values(images).shape == (4, 3, world.SIZE, world.SIZE)
