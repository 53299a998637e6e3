import json

import pytest
import torch

import sdopt
from sdopt import sources
from sdopt.build import materialize
from sdopt.tokenizer import MAX_LENGTH, load_tokenizer, write_tokenizer


def test_tokenizer_is_built_locally_and_pads_to_clip_length(tmp_path):
    tokenizer = write_tokenizer(tmp_path)
    ids = tokenizer("the cat and the dog", padding="max_length", max_length=tokenizer.model_max_length).input_ids
    assert len(ids) == MAX_LENGTH == 77
    assert ids[0] == tokenizer.bos_token_id and tokenizer.eos_token_id in ids
    assert tokenizer.convert_ids_to_tokens(ids[1]) == "the</w>"  # a merge was applied
    assert load_tokenizer(tmp_path)("the cat").input_ids == tokenizer("the cat").input_ids


def test_tiny_is_deterministic_and_keeps_sd_structure(shared_cache, tmp_path):
    folder = materialize(sources.resolve("tiny"), shared_cache)
    unet = json.loads((folder / "unet" / "config.json").read_text())
    assert "CrossAttnDownBlock2D" in unet["down_block_types"] and "CrossAttnUpBlock2D" in unet["up_block_types"]
    other = tmp_path / "again"
    sources.write_builtin("tiny", other)
    assert sources.hash_folder(other / "unet") == sources.hash_folder(folder / "unet")
    assert sources.hash_folder(other / "text_encoder") == sources.hash_folder(folder / "text_encoder")


def test_sd15_arch_has_real_shapes_without_building_it():
    arch = sources.BUILTINS["sd15-arch"]  # checked by config: instantiating it takes 4 GB and a minute
    assert arch.unet["block_out_channels"] == (320, 640, 1280, 1280)
    assert arch.unet["cross_attention_dim"] == 768 and arch.text["num_hidden_layers"] == 12
    assert arch.vae["block_out_channels"] == (128, 256, 512, 512) and arch.resolution == 512


def test_local_folder_loads_and_is_fingerprinted_by_content(shared_cache, tmp_path):
    tiny = materialize(sources.resolve("tiny"), shared_cache)
    from diffusers import StableDiffusionPipeline
    StableDiffusionPipeline.from_pretrained(tiny).save_pretrained(tmp_path / "my-model")
    source = sources.resolve(str(tmp_path / "my-model"))
    assert source.kind == "folder" and source.native_resolution == 128
    import sdopt
    folder = sdopt.build("torch-fp32", source, cache=shared_cache)
    image = sdopt.open_variant(folder).generate("a cartoon bird", 2, "euler", 0, 128, 128).images[0]
    assert image.size == (128, 128)
    before = source.fingerprint()
    config = tmp_path / "my-model" / "scheduler" / "scheduler_config.json"
    config.write_text(config.read_text().replace("1000", "999"))
    assert source.fingerprint() != before


def test_a_built_ins_torch_fp32_links_its_files_and_a_users_folder_is_saved_anew(tmp_path):
    """A built-in is saved in FP32 by sdopt itself: its torch-fp32 variant shares those files (no second copy of
    14 GB at SDXL size); a user's folder is loaded and saved, never linked, as is any folder not in FP32."""
    from safetensors.torch import save_file

    from sdopt.export import saved_in_fp32
    cache = sdopt.Cache(tmp_path / "c")  # its own: the session's may hold a copy made before linking
    tiny = materialize(sources.resolve("tiny"), cache)
    built = sdopt.build("torch-fp32", "tiny", cache=cache)
    for weights in tiny.rglob("*.safetensors"):
        assert (built / weights.relative_to(tiny)).stat().st_ino == weights.stat().st_ino
    from diffusers import StableDiffusionPipeline
    StableDiffusionPipeline.from_pretrained(tiny).save_pretrained(tmp_path / "mine")
    saved = sdopt.build("torch-fp32", str(tmp_path / "mine"), cache=cache)
    for weights in (tmp_path / "mine").rglob("*.safetensors"):
        assert (saved / weights.relative_to(tmp_path / "mine")).stat().st_nlink == 1
    assert saved_in_fp32(tiny)
    save_file({"w": torch.zeros(2, dtype=torch.float16)}, tmp_path / "mine" / "unet" / "extra.safetensors")
    assert not saved_in_fp32(tmp_path / "mine")  # half precision: loading and saving upcasts it
    (tmp_path / "mine" / "unet" / "extra.safetensors").unlink()
    (tmp_path / "mine" / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"")
    assert not saved_in_fp32(tmp_path / "mine")  # another format: saving writes safetensors


def test_bad_models_get_one_clear_error(tmp_path):
    with pytest.raises(sdopt.ModelNotFound, match="no model_index.json"):
        sources.resolve(str(tmp_path))
    with pytest.raises(sdopt.ModelNotFound, match="could not be fetched from the hub"):
        sources.resolve("nobody/no-such-model")


def test_initial_latents_depend_only_on_seed():
    from sdopt.backends import initial_latents
    assert torch.equal(initial_latents(3, 64, 64), initial_latents(3, 64, 64))
    assert not torch.equal(initial_latents(3, 64, 64), initial_latents(4, 64, 64))
