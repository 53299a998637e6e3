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
from pathlib import Path
from typing import Callable

from .errors import CorruptArtifact

MANIFEST = "sdopt-artifact.json"
FORMAT = 1  # bump when the layout of entries changes


def default_root() -> Path:
    return Path(os.environ.get("SDOPT_CACHE") or Path.home() / ".cache" / "sdopt").expanduser()


def key_of(material: dict) -> str:
    blob = json.dumps({"format": FORMAT, **material}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class Cache:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).expanduser() if root else default_root()

    def path(self, kind: str, name: str, key: str) -> Path:
        return self.root / kind / f"{name}-{key}"

    def get_or_build(self, kind: str, name: str, material: dict, build: Callable[[Path], None],
                     rebuild: bool = False) -> Path:
        """Return the complete entry for `material`, building it with `build(tmp_folder)` if needed."""
        key = key_of(material)
        final = self.path(kind, name, key)
        if not rebuild and (final / MANIFEST).is_file():
            verify(final)
            return final
        with self._lock(key):
            if (final / MANIFEST).is_file() and not rebuild:  # another process built it while we waited
                verify(final)
                return final
            self._clear_stale(key)
            tmp = self.root / "tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
            tmp.mkdir(parents=True)
            started = time.time()
            try:
                build(tmp)
                write_manifest(tmp, {"kind": kind, "name": name, "key": key, "material": material,
                                     "build_seconds": round(time.time() - started, 1)})
                if final.exists():  # --rebuild: move the old entry aside first so the swap is one rename
                    trash = self.root / "tmp" / f"{key}.old.{uuid.uuid4().hex[:6]}"
                    final.rename(trash)
                    shutil.rmtree(trash, ignore_errors=True)
                final.parent.mkdir(parents=True, exist_ok=True)
                tmp.rename(final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    @contextmanager
    def _lock(self, key: str):
        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"{key}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _clear_stale(self, key: str) -> None:
        """Leftovers of interrupted builds of this key: safe to delete since we hold its lock."""
        for stale in (self.root / "tmp").glob(f"{key}.*"):
            shutil.rmtree(stale, ignore_errors=True)


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
