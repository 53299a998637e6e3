"""Training the shapes model: the stages resume exactly where they stopped, `sdopt train-shapes` writes a folder
that loads as a model, and a damaged or misused shapes model is refused with the fix."""
import json
import shutil
from dataclasses import replace

import pytest
import torch

from sdopt.cli import main
from sdopt.errors import BadArgument, CorruptArtifact
from sdopt.shapes import model
from sdopt.shapes.manifest import MANIFEST, read_manifest
from sdopt.shapes.train import ShapesTraining
from sdopt.shapes.train_vae import VaeTraining, train_vae
from sdopt.sources import parse_resolution, resolve
import inprocess  # noqa: F401  (OpenVINO loaded before pytester's in-process runs: see inprocess.py)


class Killed(Exception):
    pass


def test_an_interrupted_stage_resumes_to_the_same_losses_and_weights(tmp_path):
    settings = VaeTraining(steps=4, batch_size=4, warmup=2, validate_every=2, checkpoint_every=2)
    whole = model.vae_model(seed=1)
    rows = train_vae(whole, settings)

    interrupted = model.vae_model(seed=1)
    checkpoint = tmp_path / "vae.ckpt"

    def kill_at_step_3(row):
        if row["step"] == 3:
            raise Killed
    with pytest.raises(Killed):
        train_vae(interrupted, settings, kill_at_step_3, checkpoint)
    assert checkpoint.is_file() and not (tmp_path / "vae.ckpt.partial").exists()
    resumed_rows = train_vae(model.vae_model(seed=1), settings, checkpoint=checkpoint)
    resumed = model.vae_model(seed=1)
    train_vae(resumed, settings, checkpoint=checkpoint)  # a finished checkpoint: nothing left to run
    assert [r["step"] for r in resumed_rows] == list(range(5))
    for a, b in zip(rows, resumed_rows):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5) if a["loss"] is not None else b["loss"] is None
        if a["validation_loss"] is not None:
            assert b["validation_loss"] == pytest.approx(a["validation_loss"], rel=1e-5)
    assert rows[-1]["validation_loss"] < rows[0]["validation_loss"]
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    assert resumed.config.scaling_factor == pytest.approx(whole.config.scaling_factor, rel=1e-5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A shapes model from the command, three steps per stage."""
    out = tmp_path_factory.mktemp("shapes") / "model"
    assert main(["train-shapes", "--out", str(out), "--clip-steps", "3", "--vae-steps", "3",
                 "--unet-steps", "3"]) == 0
    return out


def test_train_shapes_writes_a_model_with_its_manifest(trained):
    manifest = read_manifest(trained)
    assert manifest["model"] == "shapes" and manifest["resolution"] == 64
    assert manifest["command"].startswith("sdopt train-shapes --out") and "--unet-steps 3" in manifest["command"]
    assert {"torch", "diffusers"} <= set(manifest["versions"]) and manifest["machine"]["isa"]
    for stage in ("clip", "vae", "unet"):
        summary = manifest["stages"][stage]
        assert summary["steps"] == 3 and summary["seconds"] > 0 and summary["held_out_loss_final"] > 0
    assert "unet/diffusion_pytorch_model.safetensors" in manifest["files"]
    assert "clip/model.safetensors" in manifest["files"]
    log = [json.loads(line) for line in (trained / "training_log.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in log] == [(s, i) for s in ("clip", "vae", "unet") for i in range(4)]
    assert ShapesTraining.from_dict(manifest["settings"]).unet.steps == 3
    source = resolve(str(trained))
    assert source.kind == "shapes" and source.native_resolution == 64


def test_the_shapes_model_is_refused_at_another_resolution(trained):
    source = resolve(str(trained))
    assert parse_resolution(None, source) == (64, 64) == parse_resolution("64", source)
    with pytest.raises(BadArgument, match="trained on 64x64 .* at 128x128: use --resolution 64"):
        parse_resolution("128", source)


def test_a_shapes_model_samples_and_calibrates_at_its_own_guidance(trained, shared_cache):
    """SD's 7.5 oversaturates a model this small: the suites default to the shapes model's own scale, and int8
    calibration records the UNet's inputs at that scale on the world's training captions."""
    from bench.settings import Settings
    from sdopt.shapes.model import GUIDANCE
    from sdopt.shapes.world import is_held_out, parse
    assert GUIDANCE != 7.5 and Settings.parse(model=str(trained)).guidance == GUIDANCE
    assert Settings.parse(model=str(trained), guidance=4).guidance == 4
    import sdopt
    from sdopt.cache import read_manifest
    # the shipped model's int8 build, which tests/test_quality_on_shapes.py shares: one calibration per session
    base = read_manifest(sdopt.build("ov-int8-ptq", "shapes", cache=shared_cache))["material"]["base"]
    calibrations = [e.material for e in shared_cache.entries() if e.kind == "calibration"
                    and e.material.get("base") == base]
    assert calibrations and all(m["guidance"] == GUIDANCE for m in calibrations)
    for material in calibrations:
        prompts = [parse(text) for text in material["prompts"]]
        assert all(p is not None and not is_held_out(p) for p in prompts), material["prompts"]


def test_a_damaged_weight_file_fails_the_hash_check_with_the_fix(trained, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(trained, copy)
    weights = copy / "vae" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifact, match="vae/diffusion_pytorch_model.safetensors does not match its hash.*"
                                              "git checkout.*sdopt train-shapes"):
        resolve(str(copy))
    weights.unlink()
    with pytest.raises(CorruptArtifact, match="is missing"):
        resolve(str(copy))
    (copy / MANIFEST).write_text("{")
    with pytest.raises(CorruptArtifact, match="unreadable"):
        resolve(str(copy))


def test_train_shapes_refuses_an_existing_folder_and_other_settings(trained, tmp_path, capsys):
    assert main(["train-shapes", "--out", str(trained)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["train-shapes", "--out", str(tmp_path / "m"), "--unet-steps", "0"]) == 2
    assert "--unet-steps 0: at least 1" in capsys.readouterr().err
    work = tmp_path / "n.work"
    work.mkdir()
    (work / "settings.json").write_text(json.dumps({"other": 1}))
    from sdopt.shapes.train import train_shapes
    with pytest.raises(ValueError, match="other settings"):
        train_shapes(tmp_path / "n", replace(ShapesTraining()))


def test_the_quality_suite_scores_adherence_on_a_shapes_model(trained, tmp_path, shared_cache, pytester):
    """The quality suite on a (barely trained) shapes model: adherence per attribute for one- and two-object
    prompts, an out-of-world prompt counted as not scorable, a variant's adherence paired with torch-fp32's,
    FID against the world's own renders, CLIP score with the model's CLIP, and the report's adherence table."""
    from pathlib import Path

    import pandas as pd

    from bench.analysis.report import render_summary
    root = Path(__file__).resolve().parents[1]
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a large red circle on the left\na small blue square at the top\n"
                       "a green triangle above a yellow cross\na photo of a cat\n")
    result = pytester.runpytest_inprocess(
        str(root / "suites" / "test_quality.py"), "-q", "-p", "no:cacheprovider", "--model", str(trained),
        "--variants", "torch-fp32,torch-tome", "--steps", "2", "--prompts", str(prompts),
        "--results-dir", str(tmp_path / "results"), "--sdopt-cache", str(shared_cache.root),
        "-k", "adherence or fidelity or clip")
    assert result.ret == 0, result.stdout.str()[-3000:]
    run = tmp_path / "results" / "latest"
    every = pd.read_csv(run / "records.csv")
    records = every[every.variant == "torch-fp32"].set_index("metric")["value"]
    paired = every[every.variant == "torch-tome"].set_index("metric")["value"]  # prompt by prompt against FP32
    assert 0 <= paired["adherence_lost"] + paired["adherence_gained"] <= 3 and 0 <= paired["adherence_paired_p"] <= 1
    assert "adherence_lost" not in records
    assert records["adherence_not_scorable"] == 1
    assert records["adherence_n"] == 2 and records["pair_adherence_n"] == 1
    for metric in ("adherence", "adherence_color", "adherence_position", "pair_adherence_relation"):
        assert 0 <= records[metric] <= 1
    assert records["adherence_low"] <= records["adherence"] <= records["adherence_high"]
    assert records["fid_samples"] == 3 and "clip_score" in records
    summary = render_summary(run)
    assert "Prompt adherence by attribute" in summary and "two objects" in summary


def test_openvino_variants_of_a_shapes_model_export_and_draw_at_64(shared_cache):
    """ToMe and int8 variants build from a shapes model and draw 64x64 images from its 16-token captions. The
    shipped model, not the one trained above: its OpenVINO FP32 export is the one tests/test_quality_on_shapes.py
    builds, so the session exports it once (that a trained folder loads and samples, the tests above check)."""
    import numpy as np

    import sdopt
    from sdopt.backends import open_variant
    for name in ("ov-tome-fp32", "ov-int8-qat[steps=2]"):  # ToMe merging on an 8x8 latent, and QAT
        variant = open_variant(sdopt.build(name, "shapes", cache=shared_cache))
        image = variant.generate("a large red circle on the left", 2, "pndm", 0, 64, 64).images[0]
        assert np.asarray(image).shape == (64, 64, 3)
    # QAT on a shapes model trains on its world's images and captions, drawn once into the cache
    world_sets = [e for e in shared_cache.entries() if e.folder.name.startswith("world-shapes-")]
    assert world_sets and len((world_sets[0].folder / "data" / "metadata.jsonl").read_text().splitlines()) == 2048
    with pytest.raises(BadArgument, match="only a shapes model has a world"):
        sdopt.build("ov-int8-qat[data=world]", "tiny", cache=shared_cache)
