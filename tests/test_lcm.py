"""Step distillation (sdopt/methods/lcm.py, sdopt/consistency_distillation.py): the student starts as the teacher,
distillation on the shapes world brings its few-step samples toward the teacher's 20-step ones, every runtime runs
it in its own steps with one UNet input a step, and what cannot be distilled is refused before any work."""
import json

import numpy as np
import pytest
import torch

import sdopt
from sdopt.backends import capture_unet_inputs, open_variant
from sdopt.consistency_distillation import GUIDANCE_DIM, guidance_embedding, student_from
from sdopt.errors import BadArgument
from test_genai import psnr

PROMPT = "a red circle above a blue square"
STRUCTURE = "[lcm_train_steps=0]"


def test_the_student_starts_as_the_teachers_conditional_branch():
    from diffusers import UNet2DConditionModel

    from sdopt.sources import resolve
    torch.manual_seed(0)
    teacher = UNet2DConditionModel.from_config(resolve("tiny").unet_config).eval()
    student = student_from(teacher).eval()
    assert student.config.time_cond_proj_dim == GUIDANCE_DIM
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn((1, 4, 8, 8), generator=generator)
    text = torch.randn((1, 77, teacher.config.cross_attention_dim), generator=generator)
    with torch.no_grad():
        expected = teacher(sample, 500, text).sample
        for w in (0.0, 3.5):
            got = student(sample, 500, text, timestep_cond=guidance_embedding(torch.tensor([w]), GUIDANCE_DIM)).sample
            torch.testing.assert_close(got, expected)
        # once the projection is not zero, w changes the prediction: the embedding reaches the UNet
        student.time_embedding.cond_proj.weight.data.normal_(generator=generator)
        moved = student(sample, 500, text, timestep_cond=guidance_embedding(torch.tensor([3.5]), GUIDANCE_DIM)).sample
    assert not torch.allclose(moved, expected)


def test_a_student_samples_in_its_own_steps_on_every_runtime(shared_cache):
    """Asked for 20 PNDM steps, each runtime makes 4 LCM steps of one UNet input with the guidance embedding, and
    they draw the same image."""
    drawn = {}
    for name in ("torch-lcm", "ov-lcm-fp32", "ov-lcm-fp32[runtime=genai]", "ov-lcm-int8-ptq"):
        variant = open_variant(sdopt.build(name, "tiny", cache=shared_cache))
        assert variant.family.name == "lcm" and variant.unet_calls("pndm", 20) == (4, 4), name
        if variant.runtime == "genai":
            drawn[name] = variant.generate(PROMPT, 20, "pndm", 3, 128, 128)
            continue
        with capture_unet_inputs(variant) as calls:
            drawn[name] = variant.generate(PROMPT, 20, "pndm", 3, 128, 128)
        assert len(calls) == 4 and all(c["sample"].shape[0] == 1 for c in calls), name
        assert all(c["timestep_cond"].shape == (1, GUIDANCE_DIM) for c in calls), name
    reference = np.asarray(drawn["torch-lcm"].images[0])
    assert psnr(reference, drawn["ov-lcm-fp32"].images[0]) >= 40
    assert psnr(drawn["ov-lcm-fp32"].images[0], drawn["ov-lcm-fp32[runtime=genai]"].images[0]) >= 40
    assert psnr(reference, drawn["ov-lcm-int8-ptq"].images[0]) >= 20  # int8 moves it, not to another image


def test_distillation_on_shapes_brings_the_students_samples_toward_the_teachers(tmp_path):
    """A short distillation, as the build runs it: the held-out distance (4-step student samples against the
    teacher's 20-step guided ones) falls, the log and the settings are in the artifact, and it samples."""
    steps = 24
    folder = sdopt.build(f"torch-lcm[lcm_train_steps={steps}]", "shapes", cache=sdopt.Cache(tmp_path / "cache"))
    rows = [json.loads(line) for line in (folder / "distillation_log.jsonl").read_text().splitlines()]
    held = [row["validation_loss"] for row in rows if row["validation_loss"] is not None]
    assert [row["step"] for row in rows] == list(range(steps + 1)) and len(held) == 2
    assert held[-1] < 0.95 * held[0], held
    record = json.loads((folder / "distillation.json").read_text())
    assert record["trained"] and record["settings"]["steps"] == steps and record["held_out_final"] == held[-1]
    assert not list((tmp_path / "cache").glob("training/lcm/*"))  # checkpoints gone once the artifact is made
    image = open_variant(folder).generate("a red circle", 20, "pndm", 0, 64, 64).images[0]
    assert image.size == (64, 64)


@pytest.mark.parametrize("variant, model, words", [
    ("torch-lcm[lcm_train_steps=100]", "tiny", "no training data for this model"),
    ("ov-int8-ptq[lcm_steps=4]", "tiny", "apply to the step-distilled variants only"),
    ("torch-lcm[lcm_steps=9]", "tiny", "lcm_steps must be from 1 to 8"),
    ("torch-lcm[lcm_train_steps=-1]", "tiny", "lcm_train_steps must be auto"),
    ("ov-lcm-fp32", "tiny-sdxl", "distils with SD-1.x's UNet inputs only"),
    ("torch-lcm", "tiny-lcm", "is a consistency model already"),
])
def test_what_cannot_be_distilled_is_refused_before_anything_is_built(variant, model, words, tmp_path):
    cache = sdopt.Cache(tmp_path / "cache")
    with pytest.raises(BadArgument, match=words):
        sdopt.build(variant, model, cache=cache)
    assert not any(path.is_file() for path in (tmp_path / "cache").rglob("*"))


def test_a_users_model_is_not_distilled_on_nothing(shared_cache):
    """A model from a folder has no training data here: `auto` refuses it rather than ship an untrained student;
    asking for the structure alone is allowed."""
    user = sdopt.sources.resolve(str(sdopt.build("torch-fp32", "tiny", cache=shared_cache)))
    assert user.kind == "folder"
    assert "no training data" in sdopt.build_refusal("torch-lcm", user)
    assert sdopt.build_refusal(f"torch-lcm{STRUCTURE}", user) is None


def test_token_downsampling_on_the_student_converts_the_students_unet(shared_cache):
    """ov-lcm-todo-fp32 re-converts the student's UNet (the teacher has no guidance input to trace) with ToDo in
    its graph: it draws what torch's student draws with the same patch, and not what the student draws without."""
    from sdopt.artifacts import stages_of
    from sdopt.todo import apply_todo

    folder = sdopt.build("ov-lcm-todo-fp32", "tiny", cache=shared_cache)
    todo = next(entry["options"] for entry in stages_of(folder) if entry["stage"] == "todo")
    assert [entry["stage"] for entry in stages_of(folder)][-3:] == ["lcm", "export", "todo"]
    student = open_variant(sdopt.build("torch-lcm", "tiny", cache=shared_cache))
    drawn = {"plain": student.generate(PROMPT, 20, "pndm", 3, 128, 128)}
    apply_todo(student.pipe.unet, **{name.removeprefix("todo_"): value for name, value in todo.items()})
    drawn["torch"] = student.generate(PROMPT, 20, "pndm", 3, 128, 128)
    drawn["openvino"] = open_variant(folder).generate(PROMPT, 20, "pndm", 3, 128, 128)
    image = {name: np.asarray(made.images[0], dtype=np.float64) for name, made in drawn.items()}
    assert np.abs(image["openvino"] - image["torch"]).mean() < 0.05
    assert np.abs(image["torch"] - image["plain"]).mean() > 0.05  # ToDo changed the student's computation
