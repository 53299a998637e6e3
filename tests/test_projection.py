"""Projecting end to end to another step count: checked against generations really run that long, driven by the
calls a scheduler and step caching really make, and the Pareto front of the speed/quality plot."""
import pandas as pd
import pytest

from bench.analysis.frontier import pareto_front
from bench.analysis.projection import projected_seconds

from test_report import _script


def generation(steps: int, interval: int = 1, full=1.0, shallow=0.2, step=0.01, glue=0.005):
    """Timings of a made-up generation with known parts (text 0.3 s, VAE 2 s, post-processing 0.1 s): for the
    projection's refusals."""
    calls = {"text_encoder": [0.3], "vae_decode": [2.0], "image_postprocess": [0.1], "scheduler_step": [step] * steps,
             "unet": [full] * len(range(0, steps, interval))}
    if interval > 1:
        calls["unet_shallow"] = [shallow] * (steps - len(calls["unet"]))
    total = sum(sum(v) for v in calls.values()) + glue * steps
    return calls, total


@pytest.mark.parametrize("name, steps", [("torch-fp32", 3), ("ov-deepcache-fp32", 6)])
def test_a_projection_from_few_steps_matches_a_direct_generation_of_many(tiny_artifacts, name, steps):
    """What the frontier quotes at 20 steps is projected from a few: here the projection is checked against
    generations really run at 21 steps, interleaved so that drift hits both alike. Step caching is the case that
    matters: projected as if every call were full, ov-deepcache-fp32's 21 steps would read about twice their
    time. It is measured over two caching cycles: on tiny a generation's first (cold) UNet call takes up to twice
    a warm one, and one cycle has no warm full call to project the later ones from."""
    import statistics

    from bench.probes.runner import Runner
    runner = Runner(tiny_artifacts[name], threads=2)
    call = dict(prompt="a red circle", scheduler="euler", seed=0, height=128, width=128)
    target = runner.variant.unet_calls("euler", 21)
    runner.generate(steps=steps, **call)  # warm-up
    projected, all_full, direct = [], [], []
    for _ in range(5):
        runner.generate(steps=steps, **call)
        timings = runner.timings
        projected.append(projected_seconds(timings.calls, timings.total, *target, timings.step_ends))
        all_full.append(projected_seconds(timings.calls, timings.total, target[0], target[0], timings.step_ends))
        runner.generate(steps=21, **call)
        direct.append(runner.timings.total)
    ratio = statistics.median(projected) / statistics.median(direct)
    assert 0.7 < ratio < 1.4, (projected, direct)
    if target[1] < target[0]:  # the caching schedule is what brings the projection near the direct time
        assert abs(statistics.median(all_full) / statistics.median(direct) - 1) > abs(ratio - 1) + 0.3


def test_the_generations_own_setup_is_projected_once_not_per_step():
    """A made-up generation with known parts, 3 ms of glue per step, 20 ms of setup before the first step and a
    first UNet call 0.5 s slower than the rest: projected from 3 steps to 21, only the steps multiply. Spread over
    the 3 measured steps, the setup would be projected 7 times (+120 ms)."""
    def made_up(steps, setup=0.020, glue=0.003, cold=0.5):
        calls, _ = generation(steps)
        calls["unet"][0] += cold
        ends, clock = [], setup + 0.3
        for unet, step in zip(calls["unet"], calls["scheduler_step"]):
            clock += glue + unet + step
            ends.append(clock)
        return calls, ends[-1] + 2.0 + 0.1, ends

    calls, total, ends = made_up(3)
    direct = made_up(21)[1]
    assert projected_seconds(calls, total, 21, 21, ends) == pytest.approx(direct)
    assert projected_seconds(calls, total, 21, 21) == pytest.approx(direct + 6 * 0.020)  # without step ends


def test_a_projection_it_cannot_make_is_refused():
    plain, total = generation(4)
    with pytest.raises(ValueError, match="needs a measured generation that made some"):
        projected_seconds(plain, total, 20, 7)
    with pytest.raises(ValueError, match="is not a generation"):
        projected_seconds(plain, total, 20, 21)
    with pytest.raises(ValueError, match="is not a generation"):
        projected_seconds(plain, total, 20, 0)


def test_unet_calls_follow_the_scheduler_and_the_caching_schedule(tiny_artifacts):
    from sdopt.backends import open_variant
    plain = open_variant(tiny_artifacts["ov-fp32"], compile=False)
    assert plain.unet_calls("euler", 20) == (20, 20)
    assert plain.unet_calls("pndm", 20) == (21, 21)  # PNDM's warm-up step is one more call
    cached = open_variant(tiny_artifacts["ov-deepcache-fp32"], compile=False)
    assert cached.unet_calls("euler", 20) == (20, 7)  # steps 0, 3, ..., 18
    assert cached.unet_calls("pndm", 6) == (7, 3)


def test_the_pareto_front_holds_the_variants_nothing_beats_on_both():
    table = pd.DataFrame({"variant": ["slow-good", "fast-bad", "dominated", "tie-slower", "unknown"],
                          "latency_s": [10.0, 1.0, 5.0, 11.0, None],
                          "adherence": [0.95, 0.5, 0.4, 0.95, 0.99]})
    front = pareto_front(table, "latency_s", "adherence")
    assert table.variant[front].tolist() == ["slow-good", "fast-bad"]
    table["lost"] = 1 - table["adherence"]  # the same quality counted the other way round
    assert pareto_front(table, "latency_s", "lost", higher_is_better=False).tolist() == front.tolist()


def test_the_frontier_plots_labels_overlap_nothing():
    """Variants crowded at nearly the same speed and quality (as int8 forms of one model are): every label is
    placed clear of every other label."""
    import matplotlib.pyplot as plt

    from bench.analysis.figures import frontier_figure
    names = [f"ov-variant-number-{i}[inference_precision=bf16]" for i in range(8)]
    table = pd.DataFrame({"variant": names, "e2e": [5.0 + 0.05 * i for i in range(8)],
                          "lost": [3, 3, 4, 3, 4, 5, 3, 4], "fid": [70.0 + 0.1 * i for i in range(8)],
                          "holds": [True, False] * 4})
    figure = frontier_figure(table, "e2e", [("lost", "lost"), ("fid", "FID")], "crowded")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    for axis in figure.axes:
        boxes = [text.get_window_extent(renderer) for text in axis.texts]
        assert len(boxes) == len(names)
        overlapping = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
        assert not overlapping, overlapping
    plt.close(figure)


def test_check_projection_times_a_direct_generation_between_two_projected_ones(tmp_path, shared_cache, monkeypatch,
                                                                               capsys):
    import json

    from bench.analysis.records import ROUND_COLUMNS
    run = tmp_path / "run"
    run.mkdir()
    case = dict(model="tiny", steps=4, scheduler="euler", resolution="128x128", variant="torch-fp32",
                metric="latency_projected_20", unit="s")
    pd.DataFrame([{**case, "round": i, "value": v} for i, v in enumerate((0.5, 0.4, 0.6))],
                 columns=ROUND_COLUMNS).to_csv(run / "rounds.csv", index=False)
    (run / "environment.json").write_text(json.dumps({"threads_used": 2, "generation": {"guidance_scale": 7.5}}))
    monkeypatch.setenv("SDOPT_CACHE", str(shared_cache.root))
    script = _script("check-projection")
    out = tmp_path / "check.csv"
    code = script.main([str(run), "--model", "tiny", "--tolerance", "1000", "--out", str(out)])
    row = pd.read_csv(out).iloc[0]
    assert code == 0 and row.variant == "torch-fp32" and row.run_rounds == 3 and row.run_projected_s == 0.5
    projected = (row.projected_before_s + row.projected_after_s) / 2
    assert row.direct_s > 0 and projected > 0 and row.difference == pytest.approx(row.direct_s / projected - 1)
    assert "| 0.50 [0.40-0.60] |" in capsys.readouterr().out
    assert script.main([str(run), "--model", "tiny", "--variants", "ov-fp32"]) == 2  # not in the run: refused
