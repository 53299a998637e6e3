"""QAT on the tiny model: training moves what it should, the EMA follows its schedule, resume is exact, and the
trained UNet is closer to its FP32 teacher than PTQ's on held-out inputs."""
import copy
import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sdopt
from sdopt import recipes
from sdopt.build import for_source
from sdopt.cache import read_manifest
from sdopt.errors import BadArgument
from sdopt.inputs import calibration_samples, training_examples
from sdopt.qat_settings import BUILTIN_STEPS
from sdopt.sources import resolve
from sdopt.spec import split

SIZE = (128, 128)


@pytest.fixture(scope="module")
def parts(shared_cache):
    """Teacher, examples, noise scheduler and one freshly quantized student to copy from."""
    from diffusers import DDPMScheduler, UNet2DConditionModel

    from sdopt.qat import quantize_for_training
    base = sdopt.build("ov-fp32", "tiny", cache=shared_cache)
    torch_folder = base.parent / read_manifest(base)["material"]["base"]
    recipe = for_source(recipes.get("ov-int8-qat"), resolve("tiny")).resolved()
    calibration = calibration_samples(base, recipe, SIZE, shared_cache)
    examples = training_examples(torch_folder, recipe.training, SIZE, shared_cache)
    teacher = UNet2DConditionModel.from_pretrained(torch_folder / "unet")
    student = quantize_for_training(UNet2DConditionModel.from_pretrained(torch_folder / "unet"), calibration, recipe)
    scheduler = DDPMScheduler.from_config(json.loads((torch_folder / "scheduler" / "scheduler_config.json").read_text()))
    return {"teacher": teacher, "student": student, "examples": examples, "scheduler": scheduler,
            "calibration": calibration, "torch_folder": torch_folder,
            "settings": replace(recipe.training, accumulation=1, batch_size=2, checkpoint_every=2)}


def make_trainer(parts, workdir, on_step=None, **settings):
    from sdopt.qat import Trainer
    return Trainer(copy.deepcopy(parts["student"]), parts["teacher"], parts["examples"], parts["scheduler"],
                   replace(parts["settings"], **settings), workdir, on_step)


# The int8 recipe of each ISA class: conv-only with the overflow fix (AVX2), full int8 without it (VNNI/AMX).
RECIPES_BY_ISA = {"avx2": dict(int8_scope="conv-only", overflow_fix="enable"),
                  "avx512-vnni": dict(int8_scope="all", overflow_fix="disable")}


@pytest.fixture(scope="module")
def student_for(parts):
    """ISA class -> the tiny UNet fake-quantized with that class's int8 recipe, made once."""
    from diffusers import UNet2DConditionModel

    from sdopt.qat import quantize_for_training
    made = {}

    def get(isa: str):
        if isa not in made:
            recipe = recipes.get("ov-int8-qat").with_options(**RECIPES_BY_ISA[isa]).resolved()
            unet = UNet2DConditionModel.from_pretrained(parts["torch_folder"] / "unet")
            made[isa] = quantize_for_training(unet, parts["calibration"], recipe)
        return made[isa]
    return get


@pytest.mark.parametrize("isa", sorted(RECIPES_BY_ISA))
def test_training_lowers_the_loss_and_moves_weights_and_quantizers(parts, student_for, tmp_path, isa):
    """Under either ISA's recipe, the distillation loss on fixed held-out batches falls. A freshly quantized
    random-weight UNet is already within 1e-3 of its teacher, so whether 20 steps lower that by a point depends
    on the machine's rounding: the student is first pushed off its teacher (seeded noise of 5% of each weight
    tensor's spread), which leaves distillation a distance to close that no machine's numerics hide."""
    trainer = make_trainer({**parts, "student": student_for(isa)}, tmp_path, steps=20, batch_size=8,
                           learning_rate=1e-4, quantizer_learning_rate=3e-5, checkpoint_every=100)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for weight in trainer.weights:
            if weight.numel() > 1:
                weight.add_(torch.randn(weight.shape, generator=generator) * weight.std() * 0.05)
    before_loss = trainer.evaluation_loss()
    weights = [p.detach().clone() for p in trainer.weights]
    quantizers = [p.detach().clone() for p in trainer.quantizers]
    trainer.run()
    after_loss = trainer.evaluation_loss()
    moved_quantizers = sum(not torch.equal(a, b) for a, b in zip(quantizers, trainer.quantizers))
    moved_weights = sum(not torch.equal(a, b) for a, b in zip(weights, trainer.weights))
    assert len(trainer.quantizers) > 50 and moved_quantizers > 0.9 * len(trainer.quantizers)
    assert moved_weights > 0.9 * len(trainer.weights)
    print(f"{isa}: held-out distillation loss {before_loss:.6g} -> {after_loss:.6g}")
    assert after_loss < 0.9 * before_loss, (before_loss, after_loss)
    with open(tmp_path / "training_log.csv") as handle:
        log = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in log] == list(range(1, 21))
    held_out = {int(r["step"]): float(r["validation_loss"]) for r in log if r["validation_loss"]}
    assert sorted(held_out) == [10, 20] and held_out[20] == pytest.approx(after_loss, rel=1e-5)


def test_ema_follows_the_decay_schedule_and_leaves_quantizers_alone(parts, tmp_path):
    raw = []  # one weight tensor and one quantizer scale after every optimizer step
    trainer = make_trainer(parts, tmp_path, steps=5, ema_decay=0.9999)
    watched, scale = trainer.weights[0], trainer.quantizers[0]
    initial = watched.detach().clone()
    trainer.on_step = lambda step, row: raw.append(watched.detach().clone())
    trainer.run()
    # Hand-computed diffusers EMAModel schedule: decay 0 on step 1, then min(0.9999, k / (k + 9)) on step k.
    shadow = initial
    for k, weights in enumerate(raw, 1):
        decay = 0.0 if k == 1 else min(0.9999, k / (k + 9))
        shadow = decay * shadow + (1 - decay) * weights
    raw_scale = scale.detach().clone()
    final = trainer.final_module()
    assert not torch.allclose(shadow, raw[-1])  # the average really differs from the last raw weights
    torch.testing.assert_close(watched.detach(), shadow, rtol=1e-5, atol=1e-7)
    assert torch.equal(scale.detach(), raw_scale)  # quantizer scales are never averaged
    assert final is trainer.student
    with open(tmp_path / "training_log.csv") as handle:
        logged = [float(r["ema_decay"]) for r in csv.DictReader(handle)]
    assert logged == pytest.approx([0.0, 2 / 11, 3 / 12, 4 / 13, 5 / 14], abs=1e-6)


def test_resume_after_an_interruption_equals_an_uninterrupted_run(parts, tmp_path):
    whole = make_trainer(parts, tmp_path / "whole", steps=5)
    whole.run()

    def kill_at_3(step, row):
        if step == 3:
            raise KeyboardInterrupt  # after step 3, whose checkpoint is not written (every 2 steps)

    interrupted = make_trainer(parts, tmp_path / "resumed", kill_at_3, steps=5)
    with pytest.raises(KeyboardInterrupt):
        interrupted.run()
    resumed = make_trainer(parts, tmp_path / "resumed", steps=5)
    assert resumed.resume() == 2
    resumed.run()
    for name, value in whole.student.state_dict().items():
        assert torch.equal(value, resumed.student.state_dict()[name]), name
    for a, b in zip(whole.ema.shadow_params, resumed.ema.shadow_params):
        assert torch.equal(a, b)
    with open(tmp_path / "resumed" / "training_log.csv") as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle)] == [1, 2, 3, 4, 5]


def test_micro_batches_sharing_a_pass_give_the_same_gradient_and_losses(parts, tmp_path):
    """Running accumulation's micro-batches together is an execution choice, left out of the cache key: it must
    give one-at-a-time's gradient and logged losses, up to float summation order. That order differs between
    batch sizes in oneDNN's kernels and moves a few activations across int8 rounding bins, which moves the
    distillation loss (the student's small distance to its teacher) by about 1%; a wrong share of the loss or a
    wrong draw moves everything by tens of percent."""
    results = {}
    for per_pass in (1, 3):  # 3 does not divide 4: the last pass holds one micro-batch
        trainer = make_trainer(parts, tmp_path / str(per_pass), accumulation=4, batch_size=1, task_weight=0.5,
                               micro_batches_per_pass=per_pass)
        trainer.step = 1
        totals = trainer.accumulate_gradients()
        results[per_pass] = (totals, [p.grad.clone() for p in trainer.weights + trainer.quantizers],
                             trainer.evaluation_loss(batches=5))
    (one_totals, one_grads, one_held_out), (fused_totals, fused_grads, fused_held_out) = results[1], results[3]
    one_flat, fused_flat = torch.cat([g.flatten() for g in one_grads]), torch.cat([g.flatten() for g in fused_grads])
    cosine = float(F.cosine_similarity(one_flat, fused_flat, dim=0))
    norms = float(fused_flat.norm() / one_flat.norm())
    print(f"fused/one-at-a-time: gradient cosine {cosine:.5f}, norm ratio {norms:.4f}, totals {fused_totals} / "
          f"{one_totals}, held-out {fused_held_out:.6g} / {one_held_out:.6g}")
    assert one_totals["task_loss"] > 0.1 and fused_totals["task_loss"] == pytest.approx(one_totals["task_loss"],
                                                                                        rel=1e-3)
    assert fused_totals["loss"] == pytest.approx(one_totals["loss"], rel=1e-3)
    assert fused_totals["distillation_loss"] == pytest.approx(one_totals["distillation_loss"], rel=0.05)
    assert fused_held_out == pytest.approx(one_held_out, rel=0.05)
    assert sum(bool(g.abs().sum() > 0) for g in one_grads) > 0.9 * len(one_grads)
    assert cosine > 0.99 and norms == pytest.approx(1, abs=0.02)


def test_qat_unet_is_closer_to_the_teacher_than_ptq_on_held_out_inputs(tiny_artifacts):
    """Same calibration samples for both; inputs recorded from torch-fp32 on evaluation prompts, which
    neither calibration nor training saw."""
    from bench.probes.quality import prediction_error
    from sdopt.backends import capture_unet_inputs, open_variant
    from sdopt.prompts import EVALUATION_PROMPTS
    reference = open_variant(tiny_artifacts["torch-fp32"])
    with capture_unet_inputs(reference, outputs=True) as calls:
        for seed, prompt in enumerate(EVALUATION_PROMPTS[:4]):
            reference.generate(prompt, 4, "euler", seed, *SIZE)
    errors = {}
    for name in ("ov-int8-ptq", "ov-int8-qat"):
        variant = open_variant(tiny_artifacts[name])
        outputs = [variant.predict_noise(c) for c in calls]
        errors[name] = prediction_error([c["output"] for c in calls], outputs)
    print(f"UNet error to torch-fp32 on held-out inputs: {errors}")
    assert errors["ov-int8-qat"] < 0.995 * errors["ov-int8-ptq"], errors


def test_qat_variant_is_int8_and_keeps_the_pipeline_interface(tiny_artifacts):
    import openvino as ov
    folder = tiny_artifacts["ov-int8-qat"]
    model = ov.Core().read_model(folder / "unet" / "openvino_model.xml")
    reference = ov.Core().read_model(tiny_artifacts["ov-fp32"] / "unet" / "openvino_model.xml")
    types = [op.get_type_name() for op in model.get_ops()]
    int8_constants = [op for op in model.get_ops() if op.get_type_name() == "Constant"
                      and op.get_output_element_type(0).get_type_name() in ("i8", "u8")]
    assert types.count("FakeQuantize") > 20 and len(int8_constants) > 20
    assert [(p.get_any_name(), p.get_partial_shape()) for p in model.inputs] == \
        [(p.get_any_name(), p.get_partial_shape()) for p in reference.inputs]
    assert model.outputs[0].get_any_name() == "out_sample"
    log = (folder / "training_log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss") and len(log) == BUILTIN_STEPS + 1
    assert json.loads((folder / "training.json").read_text())["settings"]["task_weight"] == 0.0


def test_exported_ir_matches_the_torch_student(parts, shared_cache, tmp_path):
    import openvino as ov

    from sdopt.qat import export_student
    reference_ir = sdopt.build("ov-fp32", "tiny", cache=shared_cache) / "unet" / "openvino_model.xml"
    student = copy.deepcopy(parts["student"]).eval()
    export_student(student, reference_ir, tmp_path / "unet.xml")
    compiled = ov.Core().compile_model(tmp_path / "unet.xml", "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    relative = lambda a, b: np.linalg.norm(a - b) / np.linalg.norm(b)
    exported_error, student_error = [], []
    for sample in parts["calibration"][2::4]:
        inputs = {"sample": sample["sample"], "timestep": sample["timestep"].astype(np.int64),
                  "encoder_hidden_states": sample["encoder_hidden_states"]}
        with torch.no_grad():
            tensors = [torch.from_numpy(v) for v in inputs.values()]
            expected = student(*tensors).numpy()
            teacher = parts["teacher"](*tensors, return_dict=False)[0].numpy()
        exported_error.append(relative(compiled(inputs)[0], teacher))
        student_error.append(relative(expected, teacher))
    # int8 kernels round differently from fake quantization (2-5% apart here), but the exported UNet must be
    # as far from the teacher as the trained module is, not farther: measured within 3%.
    assert np.mean(exported_error) == pytest.approx(np.mean(student_error), rel=0.1), (exported_error, student_error)


def test_option_syntax_and_bad_settings():
    recipe = recipes.get("ov-int8-qat[steps=7,learning_rate=2e-5,checkpoint_every=3]")
    assert recipe.name == "ov-int8-qat[learning_rate=2e-05,steps=7]"  # run-only options stay out of the name
    assert (recipe.training.steps, recipe.training.learning_rate, recipe.training.checkpoint_every) == (7, 2e-5, 3)
    assert sdopt.key_material(recipes.get("ov-int8-qat[steps=7,checkpoint_every=3]")) == \
        sdopt.key_material(recipes.get("ov-int8-qat[steps=7]"))
    with pytest.raises(sdopt.UnknownName, match="stepz"):
        recipes.get("ov-int8-qat[stepz=7]")
    with pytest.raises(BadArgument, match="steps must be at least 1"):
        recipes.get("ov-int8-qat[steps=0]")
    with pytest.raises(BadArgument, match="key=value"):
        recipes.get("ov-int8-qat[steps]")
    assert split("torch-fp32,ov-int8-qat[steps=2,seed=1],ov-fp32") == (
        "torch-fp32", "ov-int8-qat[steps=2,seed=1]", "ov-fp32")


def test_imagefolder_errors_name_the_problem(tmp_path):
    from sdopt.training_data import read_imagefolder
    with pytest.raises(BadArgument, match="no metadata.jsonl"):
        read_imagefolder(tmp_path)
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "a.png", "text": "x"}\n')
    with pytest.raises(BadArgument, match="line 1 names 'a.png'"):
        read_imagefolder(tmp_path)
    (tmp_path / "metadata.jsonl").write_text('{"file": "a.png"}\n')
    with pytest.raises(BadArgument, match="line 1 is not a JSON object with file_name and text"):
        read_imagefolder(tmp_path)
    with pytest.raises(BadArgument, match="no metadata.jsonl"):
        sdopt.build(f"ov-int8-qat[data={tmp_path / 'nowhere'}]", "tiny", cache=sdopt.Cache(tmp_path / "c"))
    assert not (tmp_path / "c" / "variants").exists()  # refused before anything was built


def test_examples_are_encoded_when_drawn_as_the_pipelines_own_encoders_would(tiny_artifacts, tmp_path):
    from diffusers import StableDiffusionPipeline
    from diffusers.image_processor import VaeImageProcessor
    from PIL import Image

    from sdopt.artifacts import torch_artifact_of
    from sdopt.training_data import Examples, read_imagefolder
    rng = np.random.default_rng(1)
    pixels = [rng.integers(0, 255, (*SIZE, 3), dtype=np.uint8) for _ in range(4)]
    for index, array in enumerate(pixels):
        Image.fromarray(array).save(tmp_path / f"{index}.png")
    (tmp_path / "metadata.jsonl").write_text("".join(json.dumps({"file_name": f"{i}.png", "text": f"picture {i}"})
                                                     + "\n" for i in range(4)))
    pipe = StableDiffusionPipeline.from_pretrained(torch_artifact_of(tiny_artifacts["torch-fp32"]))
    examples = Examples(pipe, read_imagefolder(tmp_path), SIZE)
    latents, embeddings = examples.draw(torch.tensor([2, 0, 2]))
    assert len(examples) == 4 and examples.encoded == 2  # image 2 encoded once, images 1 and 3 never
    with torch.no_grad():
        expected = pipe.vae.encode(VaeImageProcessor().preprocess(Image.fromarray(pixels[2]))).latent_dist.mean
        prompt_embeds, _ = pipe.encode_prompt("picture 0", "cpu", 1, False)
    assert torch.allclose(latents[0:1], expected * pipe.vae.config.scaling_factor, atol=1e-5)
    assert torch.equal(latents[0], latents[2]) and torch.equal(embeddings[1:2], prompt_embeds)
    (tmp_path / "1.png").write_bytes(b"not a png")
    with pytest.raises(BadArgument, match="1.png could not be read"):  # before any training, not when drawn
        Examples(pipe, read_imagefolder(tmp_path), SIZE)


def test_a_user_image_folder_trains_and_the_cli_writes_the_pipeline(shared_cache, tmp_path):
    from PIL import Image

    from sdopt.cli import main
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for index in range(3):
        Image.fromarray(rng.integers(0, 255, (96, 160, 3), dtype=np.uint8)).save(data / f"{index}.png")
        lines.append(json.dumps({"file_name": f"{index}.png", "text": f"picture {index}"}))
    (data / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "qat-out"
    assert main(["qat", "--model", "tiny", "--data", str(data), "--steps", "2", "--accumulation", "1",
                 "--cache", str(shared_cache.root), "--out", str(out)]) == 0
    info = json.loads((out / "training.json").read_text())
    assert info["examples"] == 3 and 1 <= info["examples_drawn"] <= 3 and info["settings"]["data"] == str(data)
    variant = sdopt.open_variant(out)
    assert variant.generate("a test", 2, "euler", 0, *SIZE).images[0].size == SIZE
    assert main(["qat", "--model", "tiny", "--steps", "2", "--cache", str(shared_cache.root),
                 "--out", str(out)]) == 2  # refuses to write into a non-empty folder


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction", "sample"])
def test_the_task_target_follows_the_prediction_type(kind):
    from diffusers import DDPMScheduler

    from sdopt.qat import task_target
    scheduler = DDPMScheduler(prediction_type=kind)
    generator = torch.Generator().manual_seed(0)
    latents, noise = torch.randn(2, 4, 8, 8, generator=generator), torch.randn(2, 4, 8, 8, generator=generator)
    timesteps = torch.tensor([10, 900])
    expected = {"epsilon": noise, "sample": latents,
                "v_prediction": scheduler.get_velocity(latents, noise, timesteps)}[kind]
    assert torch.equal(task_target(scheduler, latents, noise, timesteps), expected)


def test_an_unknown_prediction_type_is_refused():
    from types import SimpleNamespace

    from sdopt.qat import task_target
    with pytest.raises(BadArgument, match="prediction type 'flow' .* not one QAT knows"):
        task_target(SimpleNamespace(config=SimpleNamespace(prediction_type="flow")), None, None, None)
