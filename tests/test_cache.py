import multiprocessing
import os
import time

import pytest

import sdopt
from sdopt import cli
from sdopt.cache import MANIFEST, Cache, verify
from sdopt.cache_prune import prunable
from sdopt.errors import BadArgument


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


def _aged(cache, kind, name, material, days_ago):
    folder = cache.get_or_build(kind, name, material, _write)
    old = time.time() - days_ago * 86400
    os.utime(folder / MANIFEST, (old, old))
    return folder


VERSIONS = {"torch": "2.13.0", "openvino": "2026.4.1"}


def test_prune_drops_old_and_stale_entries_but_never_what_a_kept_one_was_made_from(tmp_path):
    cache = Cache(tmp_path)
    base = _aged(cache, "variants", "torch-fp32", {"versions": VERSIONS}, days_ago=30)
    _aged(cache, "variants", "ov-fp32", {"versions": VERSIONS, "base": base.name}, days_ago=1)
    old = _aged(cache, "variants", "ov-int8", {"versions": VERSIONS}, days_ago=30)
    stale = _aged(cache, "variants", "ov-old", {"versions": {**VERSIONS, "openvino": "2025.1"}}, days_ago=0)
    _aged(cache, "calibration", "unet-x", {"base": "deleted-by-hand"}, days_ago=0)  # still reachable: kept
    leftover = tmp_path / "tmp" / "abc.123.ff"
    leftover.mkdir(parents=True)
    by_age = {e.folder for e in prunable(cache.entries(), unused_days=7)}
    assert by_age == {old, leftover}  # base is 30 days old too, but ov-fp32 was made from it
    by_versions = {e.folder for e in prunable(cache.entries(), versions=VERSIONS)}
    assert by_versions == {stale, leftover}
    with pytest.raises(BadArgument, match="say what to prune"):
        prunable(cache.entries())


def test_a_cache_hit_counts_as_use(tmp_path):
    cache = Cache(tmp_path)
    folder = _aged(cache, "variants", "x", {"a": 1}, days_ago=30)
    assert prunable(cache.entries(), unused_days=7)
    cache.get_or_build("variants", "x", {"a": 1}, _write)
    assert not prunable(cache.entries(), unused_days=7) and folder.is_dir()


def test_prune_command_removes_whole_entries_and_spares_one_being_built(tmp_path, capsys):
    cache = Cache(tmp_path)
    gone = _aged(cache, "variants", "x", {"a": 1}, days_ago=30)
    busy = _aged(cache, "variants", "y", {"a": 2}, days_ago=30)
    assert cli.main(["cache", "prune", "--unused-days", "7", "--dry-run", "--cache", str(tmp_path)]) == 0
    assert gone.is_dir() and "would remove" in capsys.readouterr().out
    with cache._lock(busy.name.rsplit("-", 1)[1]):  # as a concurrent build of that key would
        assert cli.main(["cache", "prune", "--unused-days", "7", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert not gone.exists() and busy.is_dir() and "kept (a build holds it)" in out
    assert not list((tmp_path / "tmp").iterdir())  # nothing half-deleted left behind
    assert cli.main(["cache", "list", "--cache", str(tmp_path)]) == 0
    assert "1 entries" in capsys.readouterr().out
    assert cli.main(["cache", "prune", "--cache", str(tmp_path)]) == 2
    assert "say what to prune" in capsys.readouterr().err


def test_a_cached_variant_is_served_without_its_base(tiny_artifacts, tmp_path):
    """A base deleted from the cache is not rebuilt (nor the source drawn) to open what was made from it; asked to
    rebuild, the chain is made again and names the same base."""
    import shutil
    made, base = tiny_artifacts["ov-int8-ptq"], tiny_artifacts["ov-fp32"]
    cache = Cache(tmp_path / "cache")
    for folder in (made, base):
        shutil.copytree(folder, cache.root / "variants" / folder.name)
    shutil.rmtree(cache.root / "variants" / base.name)
    assert sdopt.build("ov-int8-ptq", "tiny", cache=cache) == cache.root / "variants" / made.name
    assert sorted(p.name for p in cache.root.iterdir()) == ["variants"]  # no source, no base, no lock taken
    assert [p.name for p in (cache.root / "variants").iterdir()] == [made.name]
    assert sdopt.build("ov-fp32", "tiny", cache=cache).name == base.name  # the planned name is the built one
