"""`sdopt train-shapes`: the shapes model's three stages in order (CLIP, VAE, UNet), each checkpointed and
resumable, into one diffusers folder with a manifest of what made it.

Work happens in `<out>.work/`: a finished stage's model is saved there and reused on the next run, an
unfinished one resumes from its checkpoint. The pipeline folder appears at `out` only when every stage is done.
"""
import json
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..errors import BadArgument
from ..progress import say
from . import model, world
from .manifest import MANIFEST, write_manifest
from .train_clip import ClipTraining, train_clip
from .train_unet import Conditioning, UnetTraining, train_unet
from .train_vae import VaeTraining, train_vae

LOG = "training_log.jsonl"  # every stage's rows, shipped beside the weights


@dataclass(frozen=True)
class ShapesTraining:
    clip: ClipTraining = field(default_factory=ClipTraining)
    vae: VaeTraining = field(default_factory=VaeTraining)
    unet: UnetTraining = field(default_factory=UnetTraining)

    @classmethod
    def from_dict(cls, values: dict) -> "ShapesTraining":
        return cls(ClipTraining(**values["clip"]), VaeTraining(**values["vae"]), UnetTraining(**values["unet"]))


def stage_seeds(seed: int) -> dict:
    """One seed per stage and per model initialization, all from the run's seed."""
    return {"clip": seed, "vae": seed + 1, "unet": seed + 2}


def with_seed(settings: ShapesTraining, seed: int) -> ShapesTraining:
    seeds = stage_seeds(seed)
    return ShapesTraining(replace(settings.clip, seed=seeds["clip"]), replace(settings.vae, seed=seeds["vae"]),
                          replace(settings.unet, seed=seeds["unet"]))


def train_shapes(out: Path, settings: ShapesTraining, command: str = "",
                 on_row: Callable[[dict], None] = lambda row: None) -> Path:
    """Trains (or resumes) every stage and writes the pipeline folder `out`; returns it."""
    from diffusers import AutoencoderKL
    from transformers import CLIPModel, CLIPTokenizer

    out = Path(out)
    if out.exists():
        raise BadArgument(f"{out} exists: remove it, or pass another --out")
    work = out.with_name(out.name + ".work")
    work.mkdir(parents=True, exist_ok=True)
    _check_same_settings(work, settings)
    model.write_tokenizer(work / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(work / "tokenizer")
    results = {}

    def finished(name: str) -> bool:
        return (work / name / "rows.json").is_file()

    def finish(name: str, save: Callable[[Path], None], rows: list[dict]) -> None:
        partial = work / f"{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        save(partial)
        (partial / "rows.json").write_text(json.dumps(rows))
        shutil.rmtree(work / name, ignore_errors=True)
        os.replace(partial, work / name)

    def tagged(name):
        return lambda row: on_row({"stage": name, **row})

    if not finished("clip"):
        clip = model.clip_model(tokenizer, settings.clip.seed)
        rows = train_clip(clip, tokenizer, settings.clip, tagged("clip"), work / "clip.ckpt")
        finish("clip", clip.save_pretrained, rows)
    clip = CLIPModel.from_pretrained(work / "clip").eval()
    results["clip"] = _rows(work / "clip")

    if not finished("vae"):
        vae = model.vae_model(settings.vae.seed)
        rows = train_vae(vae, settings.vae, tagged("vae"), work / "vae.ckpt")
        finish("vae", vae.save_pretrained, rows)
    vae = AutoencoderKL.from_pretrained(work / "vae").eval()
    results["vae"] = _rows(work / "vae")

    if not finished("unet"):
        unet = model.unet_model(settings.unet.seed)
        rows = train_unet(unet, Conditioning(vae, model.text_encoder(clip), tokenizer), settings.unet,
                          tagged("unet"), work / "unet.ckpt")
        finish("unet", unet.save_pretrained, rows)
    from diffusers import UNet2DConditionModel
    unet = UNet2DConditionModel.from_pretrained(work / "unet").eval()
    results["unet"] = _rows(work / "unet")

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.write_pipeline(partial, clip, tokenizer, vae, unet)
    with (partial / LOG).open("w") as log:
        for name, rows in results.items():
            for row in rows:
                log.write(json.dumps({"stage": name, **row}) + "\n")
    write_manifest(partial, {"model": "shapes", "resolution": world.SIZE, "command": command, "settings": asdict(settings),
                             "stages": {name: _summary(rows) for name, rows in results.items()}})
    os.replace(partial, out)
    say(f"shapes model written to {out} ({MANIFEST} lists what made it); {work} holds the stages and "
        f"checkpoints and can be deleted")
    return out


def _check_same_settings(work: Path, settings: ShapesTraining) -> None:
    """A resumed run must continue the run it resumes, not mix two settings into one model."""
    recorded = work / "settings.json"
    wanted = asdict(settings)
    if recorded.is_file():
        previous = json.loads(recorded.read_text())
        if previous != wanted:
            raise BadArgument(f"{work} holds a run with other settings ({recorded}); delete {work} to start over, "
                             f"or resume with the same settings")
    else:
        recorded.write_text(json.dumps(wanted, indent=1))


def _rows(folder: Path) -> list[dict]:
    return json.loads((folder / "rows.json").read_text())


def _summary(rows: list[dict]) -> dict:
    """What the manifest says of a stage: steps, time, the held-out loss first and last, and the training
    loss averaged over the last 50 steps (one step's is noise)."""
    held = [r for r in rows if r["validation_loss"] is not None]
    tail = [r["loss"] for r in rows[-50:] if r["loss"] is not None]
    return {"steps": rows[-1]["step"], "seconds": rows[-1]["seconds"],
            "held_out_loss_first": held[0]["validation_loss"], "held_out_loss_final": held[-1]["validation_loss"],
            "loss_final_mean_of_50": sum(tail) / len(tail) if tail else None}
