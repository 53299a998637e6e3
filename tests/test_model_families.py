"""SDXL (base and Turbo) and LCM end to end: a folder of a family the project never saw loads by its
model_index.json and generates on every runtime, the OpenVINO UNet takes the batch the model's guidance needs,
calibration records the family's extra UNet inputs, and what a family cannot run is refused before any build."""
import json

import numpy as np
import pytest

import sdopt
from bench.settings import Settings
from sdopt import cli, families
from sdopt.backends import capture_unet_inputs, open_variant
from sdopt.build import chain, for_source, last_stage, materialize, refusal
from sdopt.errors import BadArgument
from sdopt.inputs import record_unet_inputs
from sdopt.ir import IR
from sdopt.sources import resolve
from test_genai import psnr

PROMPT = "a red circle above a blue square"
SIZE = 64


def assert_same_drawing(python, genai):
    """As tests/test_genai.py compares the runtimes: the same image up to the loop's float arithmetic (C++ against
    torch); latents relative to their scale, which a one-step schedule leaves large."""
    assert psnr(python.images[0], genai.images[0]) >= 45
    scale = float(python.latents.abs().max())
    assert float((genai.latents - python.latents).abs().max()) < 0.01 * scale


def write_unseen_sdxl(out):
    """An SDXL folder unlike the built-ins (other widths, heads and time embedding), as a user would bring."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from sdopt.tokenizer import MAX_LENGTH, write_tokenizer
    tokenizer = write_tokenizer(out.parent / "vocab")

    def text(hidden, layers):
        return CLIPTextConfig(vocab_size=len(tokenizer), max_position_embeddings=MAX_LENGTH, hidden_size=hidden,
                              intermediate_size=2 * hidden, num_hidden_layers=layers, num_attention_heads=2,
                              projection_dim=16, eos_token_id=tokenizer.eos_token_id,
                              bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(7)
    unet = UNet2DConditionModel(
        in_channels=4, out_channels=4, block_out_channels=(32, 32), layers_per_block=1, norm_num_groups=16,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=48, attention_head_dim=4, addition_embed_type="text_time", addition_time_embed_dim=4,
        projection_class_embeddings_input_dim=16 + 6 * 4, use_linear_projection=True, sample_size=8)
    vae = AutoencoderKL(block_out_channels=(16, 16, 16, 16), layers_per_block=1, norm_num_groups=16,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        scaling_factor=0.13025, force_upcast=True)
    scheduler = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                       steps_offset=1, timestep_spacing="leading")
    StableDiffusionXLPipeline(vae=vae.eval(), text_encoder=CLIPTextModel(text(16, 1)).eval(),
                              text_encoder_2=CLIPTextModelWithProjection(text(32, 2)).eval(), tokenizer=tokenizer,
                              tokenizer_2=tokenizer, unet=unet.eval(), scheduler=scheduler).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def unseen_sdxl(tmp_path_factory):
    return write_unseen_sdxl(tmp_path_factory.mktemp("user-sdxl") / "model")


def test_every_built_in_of_a_family_samples_as_its_own_files_say(shared_cache):
    """A built-in's declared form (guidance, scheduler) is what the family's rule reads from its written folder:
    the suites choose defaults before building it, the runtimes after."""
    for name in ("tiny-sdxl", "tiny-sdxl-turbo", "tiny-lcm"):
        source = resolve(name)
        folder = materialize(source, shared_cache)
        assert families.of_folder(folder) is source.family
        assert source.family.sampling_of(folder) == source.sampling, name
    assert resolve("tiny-sdxl-turbo").sampling.unet_batch == 1 and resolve("tiny-sdxl").sampling.unet_batch == 2
    assert resolve("tiny-lcm").sampling.scheduler == "lcm" and resolve("tiny").sampling.scheduler == "pndm"


def test_an_unseen_sdxl_folder_generates_on_torch_openvino_and_int8(unseen_sdxl, shared_cache, tmp_path, capsys):
    """Through the command users run; OpenVINO FP32 draws what PyTorch draws, int8 close to it, and the OpenVINO
    UNet takes the pooled embedding and time ids at the batch of two guidance runs."""
    images = {}
    for variant in ("torch-fp32", "ov-fp32", "ov-int8-ptq"):
        out = tmp_path / f"{variant}.png"
        assert cli.main(["generate", variant, "--model", str(unseen_sdxl), "--prompt", PROMPT, "--steps", "3",
                         "--height", str(SIZE), "--width", str(SIZE), "--out", str(out),
                         "--cache", str(shared_cache.root)]) == 0
        assert "3 steps euler, guidance 5" in capsys.readouterr().out  # the family's scheduler and scale
        from PIL import Image
        images[variant] = np.asarray(Image.open(out), dtype=np.float64)
    assert np.abs(images["ov-fp32"] - images["torch-fp32"]).max() <= 2
    int8_error = np.abs(images["ov-int8-ptq"] - images["torch-fp32"]).mean()
    assert 0 < int8_error < 20, int8_error
    import openvino as ov
    folder = sdopt.build("ov-int8-ptq", str(unseen_sdxl), SIZE, cache=shared_cache)
    inputs = {p.get_any_name(): list(p.get_partial_shape().to_shape()) for p in ov.Core().read_model(folder / "unet" / IR).inputs}
    assert inputs == {"sample": [2, 4, 8, 8], "timestep": [1], "encoder_hidden_states": [2, 77, 48],
                      "text_embeds": [2, 16], "time_ids": [2, 6]}


def test_calibration_and_teacher_forcing_carry_the_families_extra_inputs(unseen_sdxl, shared_cache):
    """What PTQ calibrates on holds SDXL's pooled embedding and time ids; a recorded call replayed on the other
    runtimes gives the recorded prediction."""
    ov_fp32 = open_variant(sdopt.build("ov-fp32", str(unseen_sdxl), SIZE, cache=shared_cache))
    samples = record_unet_inputs(ov_fp32, [PROMPT], 2, SIZE, SIZE)
    assert len(samples) == 2 and set(samples[0]) == set(families.of_folder(unseen_sdxl).denoiser_inputs)
    assert samples[0]["time_ids"].shape == (2, 6) and samples[0]["text_embeds"].shape == (2, 16)
    torch_fp32 = open_variant(sdopt.build("torch-fp32", str(unseen_sdxl), cache=shared_cache))
    with capture_unet_inputs(torch_fp32, outputs=True) as calls:
        torch_fp32.generate(PROMPT, 2, "euler", 0, SIZE, SIZE)
    genai = open_variant(sdopt.build("ov-fp32[runtime=genai]", str(unseen_sdxl), SIZE, cache=shared_cache))
    for variant in (ov_fp32, genai):
        for call in calls:
            assert np.abs(variant.predict_noise(call) - call["output"]).max() < 1e-4, variant.runtime


def test_token_merging_reaches_sdxls_attention_and_converts_with_its_extra_inputs(unseen_sdxl, shared_cache):
    """At the default reach (SDXL's first self-attention, 2x below the latent), merging changes the torch UNet's
    prediction, and the OpenVINO UNet converted with the merge in its graph (pooled embedding and time ids traced
    by name) predicts what the patched torch UNet does."""
    options = "[tome_ratio=0.5]"
    plain, merged, converted = (open_variant(sdopt.build(name, str(unseen_sdxl), SIZE, cache=shared_cache))
                                for name in ("torch-fp32", f"torch-tome{options}", f"ov-tome-fp32{options}"))
    with capture_unet_inputs(plain) as calls:
        plain.generate(PROMPT, 2, "euler", 0, SIZE, SIZE)
    call = calls[-1]
    assert np.abs(merged.predict_noise(call) - plain.predict_noise(call)).max() > 1e-3
    assert np.abs(converted.predict_noise(call) - merged.predict_noise(call)).max() < 1e-3


def test_a_guidance_distilled_model_runs_one_unet_input_per_step(shared_cache):
    """SDXL-Turbo's form: no guidance, so its OpenVINO UNet is built for a batch of one, and GenAI draws what the
    Python pipeline draws from it."""
    import openvino as ov
    folder = sdopt.build("ov-fp32", "tiny-sdxl-turbo", cache=shared_cache)
    shapes = {p.get_any_name(): p.get_partial_shape().to_shape()[0] for p in ov.Core().read_model(folder / "unet" / IR).inputs}
    assert shapes == {"sample": 1, "timestep": 1, "encoder_hidden_states": 1, "text_embeds": 1, "time_ids": 1}
    python = open_variant(folder)
    genai = open_variant(sdopt.build("ov-fp32[runtime=genai]", "tiny-sdxl-turbo", cache=shared_cache))
    python_drawn, genai_drawn = (variant.generate(PROMPT, 1, "euler-a", 3, 128, 128) for variant in (python, genai))
    assert_same_drawing(python_drawn, genai_drawn)
    with pytest.raises(BadArgument, match="a number from 0 to 1"):
        python.generate(PROMPT, 1, "euler-a", 3, 128, 128, guidance_scale=5.0)


def test_an_lcm_records_its_guidance_embedding_and_runs_on_genai(shared_cache):
    folder = sdopt.build("ov-fp32", "tiny-lcm", cache=shared_cache)
    python = open_variant(folder)
    samples = record_unet_inputs(python, [PROMPT], 2, 128, 128)
    assert [s["sample"].shape[0] for s in samples] == [1, 1] and samples[0]["timestep_cond"].shape == (1, 32)
    genai = open_variant(sdopt.build("ov-fp32[runtime=genai]", "tiny-lcm", cache=shared_cache))
    assert_same_drawing(*(variant.generate(PROMPT, 4, "lcm", 1, 128, 128) for variant in (python, genai)))


@pytest.mark.parametrize("variant, model, words", [
    ("ov-int8-qat", "tiny-sdxl", "its qat stage trains with SD-1.x's UNet inputs only"),
    ("ov-deepcache-int8-ptq", "tiny-lcm", "its deepcache stage runs the project's own denoising loop"),
    ("torch-tome[tome_max_downsample=1]", "tiny-sdxl", "set tome_max_downsample=2"),
    ("ov-todo-int8-ptq[todo_max_downsample=1]", "tiny-sdxl", "set todo_max_downsample=2"),
])
def test_what_a_family_cannot_run_is_refused_before_anything_is_built(variant, model, words, tmp_path):
    cache = sdopt.Cache(tmp_path / "cache")
    with pytest.raises(BadArgument, match=words):
        sdopt.build(variant, model, cache=cache)
    assert not any(path.is_file() for path in (tmp_path / "cache").rglob("*"))  # not even the source


@pytest.mark.parametrize("model", ["tiny", "tiny-sdxl"])
def test_a_layer_over_a_token_variant_builds_on_the_same_chain(model):
    """A GenAI or int8-decoder layer builds its variant from the recipe already made concrete for the model (a
    token method's reach a number, not `auto`): that variant must name the same bases as when asked for by name,
    and not be refused for a reach carried as a difference."""
    source = resolve(model)
    for name in ("ov-tome-int8-ptq[runtime=genai]", "ov-todo-int8-ptq[vae_decoder=int8]"):
        parent, _ = last_stage(for_source(sdopt.recipes.get(name), source), source.unet_config)
        assert refusal(parent, source) is None, name
        assert chain(parent, source.unet_config) == chain(name.split("[")[0])


def test_the_suites_leave_out_what_the_model_cannot_be_built_as():
    settings = Settings.parse(model="tiny-sdxl", variants="torch-fp32,ov-int8-qat,torch-tome,"
                                                           "torch-todo[todo_max_downsample=1]")
    assert settings.variants == ("torch-fp32", "torch-tome")
    assert [line.split(":")[0] for line in settings.not_run()] == ["ov-int8-qat", "torch-todo[todo_max_downsample=1]"]
    assert settings.schedulers == ("euler",) and settings.guidance == 5.0
    with pytest.raises(BadArgument, match="no variant asked for can be built"):
        Settings.parse(model="tiny-lcm", variants="ov-int8-qat")
    with pytest.raises(BadArgument, match="a number from 0 to 1"):
        Settings.parse(model="tiny-sdxl-turbo", guidance="3")


def test_a_folders_family_comes_from_its_model_index(tmp_path):
    for cls, family in (("StableDiffusionXLPipeline", "sdxl"), ("LatentConsistencyModelPipeline", "lcm")):
        (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": cls}))
        assert families.of_folder(tmp_path).name == family
