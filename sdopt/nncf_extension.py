"""NNCF's torch C++ quantizer ops: built once per environment, never waited on forever.

NNCF compiles them on first use (about 90 s on 2 cores), longer than its 60 s lazy-load timeout, so they are
built up front. torch guards a build with a `lock` file that only the builder removes: a build killed midway
(a cancelled CI job, a session that ended) leaves it behind, and every later build waits on it forever. So the
build directory lives in the Python environment (a fresh clone never meets another checkout's leftovers), and
a lock older than any real build is removed with a message instead of waited on.
"""
import fcntl
import os
import sys
import time
from pathlib import Path

from . import progress

# A cold build takes 1.5 min here; a lock this old belongs to a build that is no longer running.
STALE_LOCK_SECONDS = 15 * 60
POLL_SECONDS = 2.0


def extensions_dir() -> Path:
    """Where torch builds C++ extensions for this environment (TORCH_EXTENSIONS_DIR when the user set one)."""
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(Path(sys.prefix) / "torch-extensions"))
    return Path(os.environ["TORCH_EXTENSIONS_DIR"])


def wait_for_build_lock(lock: Path, stale_after: float = STALE_LOCK_SECONDS, poll: float = POLL_SECONDS) -> bool:
    """Wait while another process builds; remove `lock` once it is older than `stale_after` seconds.
    True when a stale lock was removed."""
    while True:
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return False
        if age > stale_after:
            progress.say(f"removing a stale torch extension build lock ({age / 60:.0f} min old, "
                         f"left by a build that was killed): {lock}")
            lock.unlink(missing_ok=True)
            return True
        time.sleep(poll)


def ensure_nncf_extension() -> None:
    """Build (or load) NNCF's CPU quantizer ops without NNCF's timeout and without hanging on a stale lock."""
    extensions_dir()
    import nncf.torch.quantization.extensions  # noqa: F401  (registers the extensions to build)
    from nncf.torch.extensions import EXTENSIONS, ExtensionsType
    loaders = [loader for loader in EXTENSIONS.registry_dict.values()
               if loader.extension_type() == ExtensionsType.CPU]
    with progress.stage("building/loading NNCF's torch extension (first use compiles it)"):
        for loader in loaders:
            build_dir = Path(loader.get_build_dir())
            # One sdopt builder at a time per directory, so the age test only ever meets foreign or dead locks.
            with open(build_dir / "sdopt-build.flock", "w") as guard:
                fcntl.flock(guard, fcntl.LOCK_EX)
                wait_for_build_lock(build_dir / "lock")
                loader.load()
