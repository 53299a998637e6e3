"""OpenVINO GenAI as a runtime over the OpenVINO variants' IRs: the layer adds only what GenAI needs, GenAI draws
what the Python pipeline draws from the same seed, every probe gets its parts, and what GenAI cannot run is
refused with the reason before anything is built."""
import numpy as np
import pytest

import sdopt
from sdopt.backends import initial_latents, open_variant
from sdopt.errors import BadArgument, UnknownName
from sdopt.ir import IR

PROMPT = "a red circle above a blue square"


@pytest.fixture(scope="module")
def genai_fp32(shared_cache):
    return sdopt.build("ov-fp32[runtime=genai]", "tiny", cache=shared_cache)


@pytest.fixture(scope="module")
def both_fp32(tiny_artifacts, genai_fp32):
    return open_variant(tiny_artifacts["ov-fp32"]), open_variant(genai_fp32)


def psnr(a, b) -> float:
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return 100.0 if mse == 0 else float(10 * np.log10(255 ** 2 / mse))


@pytest.mark.parametrize("seed, size", [(0, (128, 128)), (42, (64, 96))])
def test_torch_generator_draws_the_projects_initial_latents(seed, size):
    import openvino as ov
    import openvino_genai
    expected = initial_latents(seed, *size).numpy()
    drawn = openvino_genai.TorchGenerator(seed).randn_tensor(ov.Shape(list(expected.shape)))
    assert np.array_equal(np.array(drawn.data), expected)


def test_the_layer_adds_the_tokenizer_and_links_everything_else(tiny_artifacts, genai_fp32):
    from sdopt.backends.genai_backend import TOKENIZER_IR
    assert (genai_fp32 / "tokenizer" / TOKENIZER_IR).is_file() and not (tiny_artifacts["ov-fp32"] / "tokenizer" / TOKENIZER_IR).exists()
    for part in ("unet", "text_encoder", "vae_decoder"):
        assert (genai_fp32 / part / "openvino_model.bin").samefile(tiny_artifacts["ov-fp32"] / part / "openvino_model.bin")


def test_the_converted_tokenizer_gives_the_hugging_face_ids(genai_fp32):
    import openvino as ov
    import openvino_tokenizers  # noqa: F401  (registers the tokenizer operations with OpenVINO)
    from transformers import AutoTokenizer
    from sdopt.backends.genai_backend import TOKENIZER_IR
    converted = ov.Core().compile_model(genai_fp32 / "tokenizer" / TOKENIZER_IR, "CPU")
    reference = AutoTokenizer.from_pretrained(str(genai_fp32 / "tokenizer"))
    for prompt in (PROMPT, "", "Two GREEN triangles, left of a small circle!"):
        ids = converted([prompt])["input_ids"][0]
        assert list(ids) == reference(prompt)["input_ids"], prompt


@pytest.mark.parametrize("scheduler", ["pndm", "euler", "euler-a", "lcm"])
def test_genai_draws_what_the_python_pipeline_draws(both_fp32, scheduler):
    """Same IRs, same seed: the same image up to the last bits of the loop's float arithmetic (C++ against torch),
    ancestral samplers included (one noise stream per seed on both sides)."""
    python, genai = (variant.generate(PROMPT, 4, scheduler, 7, 128, 128) for variant in both_fp32)
    assert psnr(python.images[0], genai.images[0]) >= 45
    assert genai.latents.shape == python.latents.shape
    assert float((genai.latents - python.latents).abs().max()) < 0.1


def test_a_different_seed_is_a_different_image(both_fp32):
    """The comparison above can fail: GenAI follows the seed it is given."""
    _, genai = both_fp32
    one, other = (genai.generate(PROMPT, 4, "euler", seed, 128, 128).images[0] for seed in (0, 1))
    assert psnr(one, other) < 30


def test_genai_reports_every_part_of_a_generation(genai_fp32):
    from bench.probes.runner import Runner
    runner = Runner(genai_fp32)
    runner.generate(PROMPT, 3, "pndm", 0, 128, 128)
    calls = runner.timings.calls
    assert len(calls["unet"]) == len(calls["scheduler_step"]) == 4  # PNDM's warm-up step adds a call
    assert len(calls["text_encoder"]) == 1 and len(calls["vae_decode"]) == 1  # both prompts in one batch
    assert all(seconds > 0 for seconds in calls["unet"])
    assert 0 < runner.timings.parts_seconds() <= runner.timings.total
    assert len(runner.timings.step_seconds()) == 3 and runner.load_s > 0 and runner.compile_s > 0


def test_the_settings_given_are_recorded_with_what_openvino_makes_of_them(both_fp32):
    python, genai = both_fp32
    found = genai.settings_in_force()
    assert found["runtime"] == "genai" and found["given_to_genai"] == python.config
    assert found["same_settings_read_back"]["INFERENCE_PRECISION_HINT"] == "f32"
    assert found["same_settings_read_back"]["INFERENCE_NUM_THREADS"] == genai.threads


def test_teacher_forced_unet_calls_match_the_python_runtime(tiny_artifacts, shared_cache):
    """GenAI's own UNet model on the int8 IR gives the Python runtime's prediction on the same inputs."""
    from sdopt.backends import capture_unet_inputs
    python = open_variant(tiny_artifacts["ov-int8-ptq"])
    genai = open_variant(sdopt.build("ov-int8-ptq[runtime=genai]", "tiny", cache=shared_cache))
    with capture_unet_inputs(python, outputs=True) as calls:
        python.generate(PROMPT, 2, "euler", 0, 128, 128)
    for call in calls:
        predicted = genai.predict_noise(call)
        assert predicted.shape == call["output"].shape
        assert np.abs(predicted - call["output"]).max() < 1e-4


@pytest.mark.parametrize("scheduler, message", [
    ("dpm++2m", "has no OpenVINO GenAI counterpart; GenAI runs ddim, euler, euler-a, lcm, pndm"),
    ("ddim", "sets clip_sample, which OpenVINO GenAI's DDIM does not implement"),
])
def test_a_scheduler_genai_cannot_run_is_refused(both_fp32, scheduler, message):
    _, genai = both_fp32
    with pytest.raises(BadArgument, match=message):
        genai.generate(PROMPT, 2, scheduler, 0, 128, 128)
    with pytest.raises(BadArgument, match=message):  # and before a run projects its step counts
        genai.unet_calls(scheduler, 20)


@pytest.mark.parametrize("spec, message", [
    ("ov-deepcache-fp32[runtime=genai]", "step caching .* needs the project's own loop"),
    ("ov-deepcache-int8-ptq[todo_factor=2,runtime=genai]", "step caching"),
    ("torch-fp32[runtime=genai]", "runs on torch; runtime=genai is not one it can be opened on"),
])
def test_what_genai_cannot_run_is_refused_before_anything_is_built(shared_cache, spec, message):
    before = sorted(p.name for p in (shared_cache.root / "variants").glob("*"))
    with pytest.raises(BadArgument, match=message):
        sdopt.build(spec, "tiny", cache=shared_cache)
    assert sorted(p.name for p in (shared_cache.root / "variants").glob("*")) == before


def test_an_artifact_without_the_tokenizer_conversion_is_refused(tiny_artifacts):
    from sdopt.backends.genai_backend import GenAIVariant
    with pytest.raises(BadArgument, match="openvino_tokenizer.xml is missing .* runtime=genai"):
        GenAIVariant(tiny_artifacts["ov-fp32"])


def test_a_unet_with_more_than_the_standard_inputs_and_outputs_is_named(tiny_artifacts):
    from sdopt.backends.genai_backend import layout_problems, standard_unet_problem
    assert standard_unet_problem(tiny_artifacts["ov-fp32"] / "unet" / IR) is None
    problem = standard_unet_problem(tiny_artifacts["ov-deepcache-fp32"] / "unet" / IR)
    assert problem and "returns 2 outputs" in problem
    assert layout_problems(tiny_artifacts["ov-fp32"]) == []
    assert layout_problems(tiny_artifacts["torch-fp32"]) == [
        f"{tiny_artifacts['torch-fp32'] / name / IR} is missing" for name in ("text_encoder", "unet", "vae_decoder")]


def test_the_runtimes_axis_adds_a_genai_copy_of_each_openvino_variant():
    specs, refused = sdopt.recipes.on_runtimes(("torch-fp32", "ov-int8-qat[steps=2]", "ov-deepcache-fp32"),
                                               ("openvino", "genai"))
    assert specs == ("torch-fp32", "ov-int8-qat[steps=2]", "ov-int8-qat[steps=2,runtime=genai]", "ov-deepcache-fp32")
    assert list(refused) == ["ov-deepcache-fp32[runtime=genai]"] and "step caching" in refused[
        "ov-deepcache-fp32[runtime=genai]"]
    assert sdopt.recipes.on_runtimes(("ov-fp32",), ("genai",))[0] == ("ov-fp32[runtime=genai]",)
    with pytest.raises(UnknownName, match="unknown runtime 'onnx'"):
        sdopt.recipes.on_runtimes(("ov-fp32",), ("onnx",))


def test_options_of_the_openvino_variant_carry_over_to_genai():
    recipe = sdopt.recipes.get("ov-int8-ptq[vae_decoder=int8,runtime=genai]")
    assert recipe.runtime == "genai" and recipe.vae_decoder == "int8"
    assert sdopt.recipes.without_option(recipe, "runtime").name == "ov-int8-ptq[vae_decoder=int8]"


def test_the_genai_key_keeps_the_openvino_variants_own_keys():
    from sdopt.build import key_material
    plain, layered = (key_material(sdopt.recipes.get(spec)) for spec in ("ov-int8-ptq", "ov-int8-ptq[runtime=genai]"))
    assert plain["runtime"] == "openvino" and layered == plain | {"runtime": "genai", "name": layered["name"]}
