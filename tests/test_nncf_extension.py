"""The NNCF extension build must never wait forever on a lock left by a killed build."""
import os
import threading
import time

from sdopt.nncf_extension import extensions_dir, wait_for_build_lock


def test_stale_lock_is_removed(tmp_path):
    lock = tmp_path / "lock"
    lock.touch()
    old = time.time() - 3600
    os.utime(lock, (old, old))
    assert wait_for_build_lock(lock, stale_after=900, poll=0.01) is True
    assert not lock.exists()


def test_live_lock_is_waited_on_not_removed(tmp_path):
    lock = tmp_path / "lock"
    lock.touch()
    released = []

    def builder_finishes():
        time.sleep(0.3)
        released.append(time.monotonic())
        lock.unlink()

    threading.Thread(target=builder_finishes).start()
    start = time.monotonic()
    assert wait_for_build_lock(lock, stale_after=900, poll=0.01) is False
    assert released and time.monotonic() >= released[0] >= start


def test_no_lock_returns_at_once(tmp_path):
    assert wait_for_build_lock(tmp_path / "lock", stale_after=900, poll=10) is False


def test_build_dir_is_the_environments_unless_set(monkeypatch, tmp_path):
    import sys
    monkeypatch.delenv("TORCH_EXTENSIONS_DIR", raising=False)
    assert extensions_dir() == tmp_path.__class__(sys.prefix) / "torch-extensions"
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    assert extensions_dir() == tmp_path
