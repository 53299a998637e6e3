import multiprocessing
import time

import pytest

import sdopt
from sdopt.cache import MANIFEST, Cache, verify


def _write(out, text="content", delay=0.0):
    time.sleep(delay)
    (out / "model.bin").write_text(text)


def test_second_request_reuses_the_entry(tmp_path):
    cache, calls = Cache(tmp_path), []
    build = lambda out: (calls.append(1), _write(out))
    first = cache.get_or_build("variants", "x", {"a": 1}, build)
    second = cache.get_or_build("variants", "x", {"a": 1}, build)
    assert first == second and len(calls) == 1
    assert cache.get_or_build("variants", "x", {"a": 2}, build) != first  # the key covers the material


def test_rebuild_replaces_the_entry(tmp_path):
    cache = Cache(tmp_path)
    path = cache.get_or_build("variants", "x", {"a": 1}, lambda out: _write(out, "old"))
    again = cache.get_or_build("variants", "x", {"a": 1}, lambda out: _write(out, "new"), rebuild=True)
    assert again == path and (path / "model.bin").read_text() == "new"


def test_interrupted_build_leaves_nothing_that_looks_complete(tmp_path):
    cache = Cache(tmp_path)

    def crash(out):
        _write(out)
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-build

    with pytest.raises(KeyboardInterrupt):
        cache.get_or_build("variants", "x", {"a": 1}, crash)
    assert not list((tmp_path / "variants").glob("*")) if (tmp_path / "variants").exists() else True
    assert not list((tmp_path / "tmp").iterdir())
    path = cache.get_or_build("variants", "x", {"a": 1}, _write)
    assert (path / "model.bin").read_text() == "content"


def test_killed_builder_leftovers_are_cleared(tmp_path):
    cache = Cache(tmp_path)
    key = sdopt.cache.key_of({"a": 1})
    stale = tmp_path / "tmp" / f"{key}.99999.dead00"
    stale.mkdir(parents=True)
    (stale / "model.bin").write_text("half")
    cache.get_or_build("variants", "x", {"a": 1}, _write)
    assert not stale.exists()


def _concurrent_builder(root, queue):
    calls = []
    path = Cache(root).get_or_build("variants", "x", {"a": 1},
                                    lambda out: (calls.append(1), _write(out, "same", delay=1.0)))
    queue.put((str(path), len(calls)))


def test_two_concurrent_builders_build_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_concurrent_builder, args=(tmp_path, queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert results[0][0] == results[1][0]
    assert sorted(count for _, count in results) == [0, 1]  # one built, the other waited and reused
    verify(results[0][0])


def test_truncated_artifact_is_reported_with_the_fix(tmp_path):
    cache = Cache(tmp_path)
    path = cache.get_or_build("variants", "x", {"a": 1}, _write)
    (path / "model.bin").write_text("cut")
    with pytest.raises(sdopt.CorruptArtifact, match="model.bin has 3 bytes.*--rebuild"):
        cache.get_or_build("variants", "x", {"a": 1}, _write)
    (path / MANIFEST).write_text("{not json")
    with pytest.raises(sdopt.CorruptArtifact, match="rebuild"):
        verify(path)
    fixed = cache.get_or_build("variants", "x", {"a": 1}, _write, rebuild=True)
    assert verify(fixed)["files"]["model.bin"] == len("content")


def test_cache_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SDOPT_CACHE", str(tmp_path / "elsewhere"))
    assert Cache().root == tmp_path / "elsewhere"
