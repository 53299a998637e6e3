"""Where a pipeline comes from: a built-in architecture made offline, a local folder, or a hub id.

Every source ends as a diffusers pipeline folder on disk plus a fingerprint that changes whenever
its weights could have changed; variants are built from that folder.
"""
import functools
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from . import families
from .backends.base import check_size
from .errors import BadArgument, ModelNotFound
from .shapes.manifest import MANIFEST, read_manifest, verify
from .shapes.model import GUIDANCE

# Bump when a built-in architecture's construction changes, so cached sources are rebuilt.
BUILTIN_VERSION = 1
SEED = 20260
BUILTINS = {name: families.builtin(name)[1] for name in families.builtin_names()}


# Trained models that ship in the repository, each a pipeline folder with a manifest of file hashes.
SHIPPED = {"shapes": Path(__file__).parent / "shapes" / "shipped"}
# What --model accepts, as every command's help says it.
MODEL_HELP = (f"a built-in ({', '.join(BUILTINS)}: random weights, for speed and size; "
              f"{', '.join(SHIPPED)}: the trained model the project ships, for quality), a hub id or a diffusers folder")


@dataclass(frozen=True)
class Source:
    """A resolved --model value. `folder` is None for built-ins until they are materialized."""
    spec: str
    kind: str  # "builtin" | "shapes" (a shapes model, trained at one size) | "folder" | "hub"
    folder: Path | None = None

    @property
    def slug(self) -> str:
        """A short name safe for folder names."""
        return safe_name(self.spec.strip("/").split("/")[-1])

    @property
    def native_resolution(self) -> int:
        if self.kind == "builtin":
            return BUILTINS[self.spec].resolution
        unet = json.loads((self.folder / "unet" / "config.json").read_text())
        return unet["sample_size"] * self.vae_scale_factor

    @property
    def family(self) -> families.Family:
        if self.kind == "builtin":
            return families.builtin(self.spec)[0]
        return families.of_folder(self.folder)

    @property
    def vae_scale_factor(self) -> int:
        """Image pixels per latent pixel: 2 per downsampling level of the VAE (8 in Stable Diffusion 1.x)."""
        if self.kind == "builtin":
            levels = len(BUILTINS[self.spec].vae["block_out_channels"])
        else:
            levels = len(json.loads((self.folder / "vae" / "config.json").read_text())["block_out_channels"])
        return 2 ** (levels - 1)

    def fingerprint(self) -> dict:
        if self.kind == "builtin":
            return {"builtin": self.spec, "version": BUILTIN_VERSION, "seed": SEED}
        if self.kind == "shapes":  # the files the manifest hashes (checked on load); what it records may grow
            files = json.dumps(read_manifest(self.folder)["files"], sort_keys=True)
            return {"shapes_files_sha256": hashlib.sha256(files.encode()).hexdigest()}
        return {"folder_sha256": hash_folder(self.folder)}

    @property
    def unet_config(self) -> dict:
        """The UNet's diffusers config (a built-in's as its architecture gives it)."""
        if self.kind == "builtin":
            return BUILTINS[self.spec].unet
        return json.loads((self.folder / "unet" / "config.json").read_text())

    @property
    def sampling(self) -> families.Sampling:
        """How the model samples unless told otherwise: its family's rule on its own files (a built-in's form)."""
        if self.kind == "builtin":
            return self.family.builtin_sampling(self.spec)
        sampling = self.family.sampling_of(self.folder)
        return replace(sampling, guidance=GUIDANCE) if self.kind == "shapes" else sampling

    @property
    def default_guidance(self) -> float:
        """The guidance scale the model samples with unless told otherwise: its own where it has one."""
        return self.sampling.guidance

    @property
    def only_resolution(self) -> bool:
        """A model trained at one size only: the shapes world has no meaning at any other."""
        return self.kind == "shapes"


def parse_resolution(value, source: Source | None = None) -> tuple[int, int]:
    """`512`, `512x768`, (h, w) or None (the source's native size) -> (height, width)."""
    if value in (None, "", "native"):
        if source is None:
            raise BadArgument("a resolution is needed")
        side = source.native_resolution
        return side, side
    if isinstance(value, str):
        try:
            parts = [int(p) for p in value.lower().split("x")]
        except ValueError:
            raise BadArgument(f"resolution {value!r} is not N or HxW (for example 512 or 512x768)") from None
        value = parts * 2 if len(parts) == 1 else parts
    elif isinstance(value, int):
        value = (value, value)
    height, width = (int(v) for v in value)
    if source is not None and source.only_resolution and (height, width) != (source.native_resolution,) * 2:
        side = source.native_resolution
        raise BadArgument(f"the shapes model was trained on {side}x{side} images of its world only and draws "
                          f"nothing meaningful at {height}x{width}: use --resolution {side} (or leave it out)")
    check_size(height, width, source.vae_scale_factor if source is not None else families.DEFAULT.vae_scale)
    return height, width


def safe_name(text: str) -> str:
    """`text` with anything but letters, digits, '-', '_' and '.' replaced, for file and folder names."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def resolve(spec: str) -> Source:
    """Turn a --model value into a Source, downloading a hub id only if the hub is reachable."""
    if spec in BUILTINS:
        return Source(spec, "builtin")
    if spec in SHIPPED:
        if not (SHIPPED[spec] / "model_index.json").is_file():
            raise ModelNotFound(f"the {spec} model is not in this checkout ({SHIPPED[spec]}): `git checkout -- "
                                f"{SHIPPED[spec]}`, or train one with `sdopt train-shapes --out DIR` and pass "
                                f"--model DIR")
        return _shapes(spec, SHIPPED[spec])
    path = Path(spec).expanduser()
    if path.exists() or spec.startswith((".", "/", "~")):
        if not (path / "model_index.json").is_file():
            raise ModelNotFound(f"model folder {str(path)!r} has no model_index.json: pass a diffusers pipeline "
                                f"folder (as written by save_pretrained) or one of {', '.join([*BUILTINS, *SHIPPED])}")
        if _is_shapes_model(path):
            return _shapes(spec, path.resolve())
        return Source(spec, "folder", path.resolve())
    return Source(spec, "hub", _download(spec))


def _is_shapes_model(folder: Path) -> bool:
    """A manifest that names the shapes model, or one too damaged to say (then the check refuses it)."""
    path = folder / MANIFEST
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("model") == "shapes"
    except (OSError, json.JSONDecodeError, AttributeError):
        return True


def _shapes(spec: str, folder: Path) -> Source:
    """A shapes model, shipped or trained by the user: its files must match the manifest's hashes."""
    verify(folder)
    return Source(spec, "shapes", folder)


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    try:
        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model"],
                                      ignore_patterns=["*.fp16.*", "*ema*", "*.non_ema.*"]))
    except Exception as exc:  # hub errors come in many classes; the message is what a user needs
        raise ModelNotFound(
            f"model {repo_id!r} is not a built-in ({', '.join(BUILTINS)}), not a local folder, and could not be "
            f"fetched from the hub ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). Fix: check the id, "
            f"or download it once with network access, or pass a local diffusers folder") from exc


def hash_folder(folder: Path) -> str:
    """Content hash of every file; memoized on the files' sizes and mtimes (GBs take seconds to hash)."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    return _content_hash(Path(folder), tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


@functools.lru_cache(maxsize=32)
def _content_hash(folder: Path, signature: tuple) -> str:
    digest = hashlib.sha256()
    for name, _, _ in signature:
        path = Path(name)
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def write_builtin(name: str, out: Path, say: Callable[[str], None] = lambda _: None) -> None:
    """Build a built-in pipeline from code, seeded, and save it as a diffusers folder."""
    family, arch = families.builtin(name)
    family.write_builtin(family, name, out, SEED, say)
    (out / "SOURCE.md").write_text(f"# {name}\n\nBuilt offline by sdopt from code, seed {SEED}. {arch.notes}.\n")
