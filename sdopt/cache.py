"""A content-addressed cache of built folders (sources and variants).

An entry's name carries a hash of everything that decides its content. Entries are built in a private
temporary folder and renamed into place only when complete, so an interrupted build leaves nothing
that looks finished; a file lock per key makes concurrent builders of the same entry wait for one another.
"""
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import CorruptArtifact

MANIFEST = "sdopt-artifact.json"
FORMAT = 1  # bump when the layout of entries changes


def default_root() -> Path:
    """The one default of every entry point (the sdopt CLI, the Python API, the suites, make): $SDOPT_CACHE,
    else ~/.cache/sdopt, so that a variant built by one is found by the others."""
    return Path(os.environ.get("SDOPT_CACHE") or Path.home() / ".cache" / "sdopt").expanduser()


HELP = "variant cache folder (default: $SDOPT_CACHE, else ~/.cache/sdopt)"


def key_of(material: dict) -> str:
    blob = json.dumps({"format": FORMAT, **material}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def entry_folder_name(name: str, material: dict) -> str:
    """An entry's folder: its name and the key of what decides its content."""
    return _folder(name, key_of(material))


def _folder(name: str, key: str) -> str:
    return f"{name}-{key}"


class Cache:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).expanduser() if root else default_root()

    def path(self, kind: str, name: str, key: str) -> Path:
        return self.root / kind / _folder(name, key)

    def get_or_build(self, kind: str, name: str, material: dict, build: Callable[[Path], None],
                     rebuild: bool = False) -> Path:
        """Return the complete entry for `material`, building it with `build(tmp_folder)` if needed; a dict that
        `build` returns is kept in the entry's manifest."""
        key = key_of(material)
        final = self.path(kind, name, key)
        if not rebuild and self.find(kind, name, material):
            return final
        with self._lock(key):
            if (final / MANIFEST).is_file() and not rebuild:  # another process built it while we waited
                verify(final)
                _mark_used(final)
                return final
            self._clear_stale(key)
            tmp = self.root / "tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
            tmp.mkdir(parents=True)
            started = time.time()
            try:
                described = build(tmp)  # a builder may describe what it made (a variant: its stages)
                write_manifest(tmp, {"kind": kind, "name": name, "key": key, "material": material,
                                     "build_seconds": round(time.time() - started, 1),
                                     **(described if isinstance(described, dict) else {})})
                if final.exists():  # --rebuild: move the old entry aside first so the swap is one rename
                    trash = self.root / "tmp" / f"{key}.old.{uuid.uuid4().hex[:6]}"
                    final.rename(trash)
                    shutil.rmtree(trash, ignore_errors=True)
                final.parent.mkdir(parents=True, exist_ok=True)
                tmp.rename(final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def find(self, kind: str, name: str, material: dict) -> Path | None:
        """The complete entry for `material` (checked, and marked used), or None if it is not built."""
        final = self.path(kind, name, key_of(material))
        if not (final / MANIFEST).is_file():
            return None
        verify(final)
        _mark_used(final)
        return final

    @contextmanager
    def _lock(self, key: str, wait: bool = True):
        """Hold the key's lock; with wait=False, yield False at once if someone else holds it."""
        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{key}.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def entries(self) -> list["Entry"]:
        """Every entry (and leftover of an interrupted build) under the root, oldest use first."""
        kinds = [kind for kind in sorted(self.root.glob("*")) if kind.is_dir() and kind.name != "locks"]
        found = [Entry.of(folder) for kind in kinds for folder in sorted(kind.iterdir()) if folder.is_dir()]
        return sorted(found, key=lambda e: e.last_used)

    def remove(self, entry: "Entry", dry_run: bool = False) -> bool:
        """Delete an entry (dry_run: only say if it could be) unless a build holds its key; the rename first
        makes the removal all or nothing for readers (an entry is never seen half-deleted)."""
        with self._lock(entry.key, wait=False) as held:
            if not held or dry_run:
                return held
            trash = self.root / "tmp" / f"{entry.key}.removed.{uuid.uuid4().hex[:6]}"
            trash.parent.mkdir(parents=True, exist_ok=True)
            entry.folder.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
            return True

    def _clear_stale(self, key: str) -> None:
        """Leftovers of interrupted builds of this key: safe to delete since we hold its lock."""
        for stale in (self.root / "tmp").glob(f"{key}.*"):
            shutil.rmtree(stale, ignore_errors=True)


def _mark_used(folder: Path) -> None:
    """A cache hit refreshes the manifest's time, which is what `sdopt cache prune --unused-days` reads."""
    try:
        os.utime(folder / MANIFEST)
    except OSError:  # a read-only cache still serves
        pass


@dataclass(frozen=True)
class Entry:
    kind: str  # variants, sources, calibration, training-data, training (QAT checkpoints), tmp (leftovers)
    folder: Path
    key: str
    manifest: dict | None  # None for QAT checkpoint folders and leftovers of interrupted builds
    bytes: int
    last_used: float  # seconds since the epoch

    @classmethod
    def of(cls, folder: Path) -> "Entry":
        manifest = None
        if (folder / MANIFEST).is_file():
            try:
                manifest = json.loads((folder / MANIFEST).read_text())
            except (OSError, json.JSONDecodeError):
                pass  # a corrupt entry: listed, prunable, never trusted
        stamp = folder / MANIFEST if manifest else folder
        key = folder.name.split(".")[0] if folder.parent.name == "tmp" else folder.name.rsplit("-", 1)[-1]
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        return cls(folder.parent.name, folder, key, manifest, size, stamp.stat().st_mtime)

    @property
    def material(self) -> dict:
        return (self.manifest or {}).get("material", {})

    @property
    def needs(self) -> set:
        """Folder names of the variants this entry was made from (kept while this entry is kept)."""
        return {self.material[k] for k in ("base", "teacher") if isinstance(self.material.get(k), str)}


def write_manifest(folder: Path, info: dict) -> None:
    files = {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}
    (folder / MANIFEST).write_text(json.dumps({**info, "files": files}, indent=1, default=str))


def read_manifest(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CorruptArtifact(f"{folder} is not a complete sdopt artifact ({MANIFEST} unreadable: {exc}); "
                              f"rebuild it with --rebuild") from exc


def verify(folder: Path) -> dict:
    """Check that every file the manifest lists is there with its recorded size."""
    manifest = read_manifest(folder)
    for name, size in manifest["files"].items():
        path = Path(folder) / name
        actual = path.stat().st_size if path.is_file() else None
        if actual != size:
            problem = "is missing" if actual is None else f"has {actual} bytes, expected {size}"
            raise CorruptArtifact(f"cached artifact {folder} is corrupt: {name} {problem}. "
                                  f"Fix: rebuild it with --rebuild (or delete the folder)")
    return manifest
