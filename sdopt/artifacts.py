"""Artifacts on disk: the chain of bases an artifact was built from, copying one as hard links, and the
library versions every artifact records."""
import os
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .cache import MANIFEST, read_manifest

LIBRARIES = ("torch", "diffusers", "transformers", "openvino", "nncf", "optimum-intel")


def library_versions(names=LIBRARIES) -> dict:
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def ancestor(folder: Path, wanted) -> Path:
    """The nearest artifact in the chain of bases (this one included) whose recipe satisfies `wanted`."""
    manifest = read_manifest(folder)
    while not wanted(manifest["material"]["recipe"]):
        folder = folder.parent / manifest["material"]["base"]  # bases live side by side
        manifest = read_manifest(folder)
    return folder


def torch_artifact_of(folder: Path) -> Path:
    """The torch pipeline an artifact's OpenVINO files were exported from: the nearest torch artifact in its chain
    of bases. For most variants that is the model saved as torch FP32; for those made from the step-distilled
    student (torch-lcm) it is the student, so a stage that re-converts or retrains the UNet starts from it."""
    return ancestor(folder, lambda recipe: recipe["runtime"] == "torch")


def without_token_merging(folder: Path) -> Path:
    """The artifact a token-merged one was made from. ToMe changes what happens inside the UNet, hardly its
    inputs (latents, timesteps, text embeddings), so int8 recipes at any ratio share its recorded inputs."""
    return ancestor(folder, lambda recipe: recipe["method"] != "tome")


def stages_of(folder: Path) -> list[dict]:
    """The stages an artifact was made of, in build order, as its manifest lists them."""
    return read_manifest(folder).get("stages", [])


def link_copy(src: Path, dst: Path) -> None:
    """Copy a finished artifact as hard links (cheap for GBs); writers must unlink before replacing."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.name != MANIFEST:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)
