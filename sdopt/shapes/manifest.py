"""The shipped shapes model's manifest: what made it, and a hash of every file, checked on every load.

A weight file that does not match its hash is never loaded: the fix is `git checkout` of the folder (a damaged
clone) or retraining with the command the manifest records.
"""
import hashlib
import json
from pathlib import Path

from ..artifacts import library_versions
from ..errors import CorruptArtifact
from ..isa import cpu_info, detected_class

MANIFEST = "manifest.json"


def file_hashes(folder: Path) -> dict:
    folder = Path(folder)
    return {str(p.relative_to(folder)): _sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, info: dict) -> dict:
    manifest = {**info, "versions": library_versions(), "machine": {**cpu_info(), "isa": detected_class()},
                "files": file_hashes(folder)}
    (Path(folder) / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    return manifest


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CorruptArtifact(f"{path} is missing or unreadable ({exc}): restore it with `git checkout -- "
                              f"{folder}`, or retrain with `sdopt train-shapes`") from exc


def verify(folder: Path) -> dict:
    """Every file the manifest lists, with its hash, and no weight file it does not list."""
    manifest = read_manifest(folder)
    expected = manifest["files"]
    actual = file_hashes(folder)
    problems = [f"{name} is missing" for name in expected if name not in actual]
    problems += [f"{name} does not match its hash" for name in expected if name in actual
                 and actual[name] != expected[name]]
    problems += [f"{name} is not in the manifest" for name in actual if name not in expected
                 and name.endswith((".safetensors", ".bin", ".json"))]
    if problems:
        command = manifest.get("command") or "sdopt train-shapes"
        raise CorruptArtifact(f"the shapes model at {folder} is damaged: {'; '.join(problems)}. Fix: "
                              f"`git checkout -- {folder}` (a damaged clone or a local edit), or retrain with "
                              f"`{command}`")
    return manifest


def record(folder: Path, key: str, value) -> None:
    """Adds a measurement (the adherence the bench measured) to the manifest; the files' hashes stay."""
    manifest = read_manifest(folder)
    manifest[key] = value
    (Path(folder) / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str) + "\n")
