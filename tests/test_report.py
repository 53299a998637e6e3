import os

import pandas as pd
import pytest

from bench import __main__ as bench_cli
from bench.analysis.records import Recorder
from bench.analysis.report import summary_table, write_run


def _records():
    recorder = Recorder()
    add = lambda variant, metric, value, steps=4, scheduler="pndm", unit="s": recorder.add(
        model="tiny", variant=variant, steps=steps, scheduler=scheduler, resolution="128x128", metric=metric,
        value=value, unit=unit)
    for variant, latency, unet, footprint, rss in (("torch-fp32", 2.0, 400.0, 100.0, 900.0),
                                                   ("ov-fp32", 1.0, 160.0, 110.0, 700.0),
                                                   ("ov-int8-ptq", 0.5, 100.0, 25.0, 600.0)):
        add(variant, "latency_median", latency)
        add(variant, "unet_call_median", unet, unit="ms")
        add(variant, "latency_median", latency * 2, steps=8)
        add(variant, "footprint_total", footprint, steps=None, scheduler=None, unit="MB")
        add(variant, "peak_rss", rss, unit="MiB")
    return recorder.frame()


def test_summary_has_speedup_and_footprint_ratio_against_torch():
    table = summary_table(_records()).set_index(["steps", "variant"])
    assert table.loc[(4, "ov-fp32"), "speedup"] == pytest.approx(2.0)
    assert table.loc[(4, "ov-int8-ptq"), "speedup"] == pytest.approx(4.0)
    assert table.loc[(8, "ov-int8-ptq"), "speedup"] == pytest.approx(4.0)  # baseline of the same steps
    assert table.loc[(4, "ov-int8-ptq"), "unet_speedup"] == pytest.approx(4.0)
    assert table.loc[(4, "ov-int8-ptq"), "footprint_ratio"] == pytest.approx(0.25)
    assert table.loc[(4, "torch-fp32"), "peak_rss_mib"] == 900.0


def test_run_folders_are_new_complete_and_linked(tmp_path):
    first = write_run(_records(), {"cpu_model": "test cpu", "isa": ["avx2"]}, tmp_path, run_id="run-a")
    assert {p.name for p in first.iterdir()} == {"records.csv", "environment.json", "summary.md", "report.html"}
    summary = (first / "summary.md").read_text()
    assert "| tiny | 128x128 | 4 | pndm | ov-int8-ptq | 0.500 |" in summary and "4.00x" in summary
    assert "test cpu" in summary and "avx2" in summary
    assert os.readlink(tmp_path / "latest") == "run-a"
    write_run(_records(), {}, tmp_path, run_id="run-b")
    assert os.readlink(tmp_path / "latest") == "run-b" and first.exists()
    with pytest.raises(FileExistsError):
        write_run(_records(), {}, tmp_path, run_id="run-a")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging left behind"


def test_profiles_are_summarized(tmp_path):
    profile = pd.DataFrame({"node_type": ["Convolution", "MatMul"], "exec_type": ["jit_avx2_I8", "brgemm_avx2_f32"],
                            "ms": [30.0, 10.0], "layers": [40, 20], "share": [0.75, 0.25]})
    run = write_run(_records(), {}, tmp_path, extra_files={"profile-ov-int8-ptq.csv": profile}, run_id="run-p")
    summary = (run / "summary.md").read_text()
    assert "Where ov-int8-ptq's UNet call spends its time" in summary
    assert "| Convolution | jit_avx2_I8 | 30.0 | 40 | 75% |" in summary


def test_failed_write_leaves_no_partial_run(tmp_path):
    class Broken:
        def to_csv(self, *args, **kwargs):
            raise OSError("disk full")
    with pytest.raises(OSError):
        write_run(Broken(), {}, tmp_path, run_id="run-x")
    assert list(tmp_path.iterdir()) == []


def test_bench_report_rerenders_an_earlier_run(tmp_path, capsys):
    run = write_run(_records(), {"cpu_model": "test cpu"}, tmp_path, run_id="run-a")
    (run / "summary.md").unlink()
    assert bench_cli.main(["report", str(run)]) == 0
    assert "ov-int8-ptq" in capsys.readouterr().out and (run / "summary.md").is_file()
    assert bench_cli.main(["report", str(tmp_path / "nothing")]) == 2
    assert "no records.csv" in capsys.readouterr().err


def test_quality_columns_plot_grids_and_html(tmp_path):
    records = _records()
    recorder = Recorder()
    for variant, psnr in (("torch-fp32", 100.0), ("ov-fp32", 60.0), ("ov-int8-ptq", 31.5)):
        recorder.add(model="tiny", variant=variant, steps=4, scheduler="pndm", resolution="128x128",
                     metric="psnr", value=psnr, unit="dB")
    images = tmp_path / "imgs"
    images.mkdir()
    from PIL import Image
    for variant in ("torch-fp32", "ov-fp32", "ov-int8-ptq"):
        Image.new("RGB", (64, 64), "gray").save(images / f"{variant}__4-pndm__p000-s0.png")
    run = write_run(pd.concat([records, recorder.frame()]), {}, tmp_path / "results",
                    extra_files={"images": images}, run_id="run-q")
    assert "| 31.5 |" in (run / "summary.md").read_text()
    assert (run / "tradeoff.png").stat().st_size > 1000
    grid = Image.open(run / "grids" / "grid__4-pndm__p000-s0.png")
    assert grid.size[0] >= 3 * 64
    html = (run / "report.html").read_text()
    assert "tradeoff.png" in html and "grids/grid__4-pndm__p000-s0.png" in html and "run-q" in html
    assert ".partial" not in html


def test_qat_training_logs_become_a_loss_curve(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("step,loss,validation_loss\n1,0.5,\n2,0.3,0.4\n3,0.2,\n4,0.25,0.3\n")
    run = write_run(_records(), {}, tmp_path / "results", extra_files={"training/ov-int8-qat.csv": log},
                    run_id="run-q")
    assert (run / "training" / "ov-int8-qat.csv").is_file() and (run / "training_loss.png").stat().st_size > 1000
    assert "training_loss.png" in (run / "report.html").read_text()
    plain = write_run(_records(), {}, tmp_path / "results", run_id="run-n")
    assert not (plain / "training_loss.png").exists()


def test_speedups_are_paired_by_round_with_an_interval(tmp_path):
    """torch-fp32 over the variant in the same round, median over rounds: 2.0 here, where the ratio of the two
    medians would read 3.0."""
    recorder = Recorder()
    for variant, seconds in (("torch-fp32", [1.0, 2.0, 3.0, 4.0, 5.0]), ("ov-fp32", [1.0, 1.0, 1.0, 2.0, 5.0])):
        for index, value in enumerate(seconds):
            recorder.add_round(index, model="tiny", variant=variant, steps=4, scheduler="pndm",
                               resolution="128x128", metric="latency_median", value=value, unit="s")
    rounds = recorder.rounds_frame()
    from bench.analysis.runs import records_from_rounds
    table = summary_table(records_from_rounds(rounds), rounds).set_index("variant")
    assert table.loc["ov-fp32", "speedup"] == 2.0 and table.loc["ov-fp32", "latency_s"] == 1.0
    assert (table.loc["ov-fp32", "speedup_low"], table.loc["ov-fp32", "speedup_high"]) == (1.0, 3.0)
    assert table.loc["ov-fp32", "speedup_n"] == 5 and table.loc["ov-fp32", "speedup_coverage"] == pytest.approx(0.9375)
    run = write_run(records_from_rounds(rounds), {}, tmp_path, run_id="run-r", rounds=rounds)
    assert (run / "rounds.csv").is_file()
    assert "| ov-fp32 | 1.000 | 2.00x [1.00-3.00] |" in (run / "summary.md").read_text()
    three = rounds[rounds["round"] < 3]
    shown = (write_run(records_from_rounds(three), {}, tmp_path, run_id="run-3", rounds=three) / "summary.md")
    assert "2.00x (n=3: 1.00-3.00, 75%)" in shown.read_text()


def test_too_few_fid_images_are_flagged_in_the_summary(tmp_path):
    records = pd.concat([_records(), pd.DataFrame([dict(model="tiny", variant="ov-fp32", steps=4, scheduler="pndm",
                                                        resolution="128x128", metric="fid_samples", value=4.0,
                                                        unit="images")])])
    summary = (write_run(records, {}, tmp_path, run_id="run-f") / "summary.md").read_text()
    assert "FID/KID come from 4 images per set" in summary
    assert "FID/KID come" not in (write_run(_records(), {}, tmp_path, run_id="run-g") / "summary.md").read_text()


def test_adherence_sits_beside_speed_with_its_interval_and_drives_the_tradeoff_plot(tmp_path):
    recorder = Recorder()
    for variant, latency, rate in (("torch-fp32", 2.0, 0.95), ("ov-int8-ptq", 0.5, 0.60)):
        add = lambda metric, value, unit="ratio": recorder.add(model="shapes", variant=variant, steps=20,
                                                               scheduler="pndm", resolution="64x64", metric=metric,
                                                               value=value, unit=unit)
        add("latency_median", latency, "s")
        for metric, value in (("adherence", rate), ("adherence_low", rate - 0.04), ("adherence_high", rate + 0.03),
                              ("adherence_n", 201), ("adherence_color", 0.99), ("adherence_shape", rate + 0.01),
                              ("pair_adherence", rate / 2), ("pair_adherence_relation", 0.7)):
            add(metric, value)
    run = write_run(recorder.frame(), {}, tmp_path, run_id="run-s")
    summary = (run / "summary.md").read_text()
    assert "| 60.0% [56%-63%], n=201 |" in summary and "| 95.0% [91%-98%], n=201 |" in summary
    assert "## Prompt adherence by attribute" in summary
    assert "| shapes | 64x64 | 20 | pndm | one object | ov-int8-ptq | 60.0% |" in summary
    assert "two objects | ov-int8-ptq | 30.0% |" in summary and "70.0%" in summary
    html = (run / "report.html").read_text()
    assert "tradeoff.png" in html and (run / "tradeoff.png").stat().st_size > 0


def test_the_experiment_table_puts_each_variants_adherence_by_attribute_beside_its_speed(tmp_path, capsys):
    recorder = Recorder()
    odd = "ov-tome-int8-ptq[tome_ratio=0.6,tome_mlp=true]"  # a name with commas, as the experiment's are
    for variant, latency, rate, color in (("torch-fp32", 2.0, 0.95, 0.99), (odd, 0.5, 0.60, 0.75)):
        add = lambda metric, value, unit="ratio": recorder.add(model="shapes", variant=variant, steps=20,
                                                               scheduler="pndm", resolution="64x64", metric=metric,
                                                               value=value, unit=unit)
        add("latency_median", latency, "s")
        add("fid", 70.0 if variant == "torch-fp32" else 90.0, "fid")
        for metric, value in (("adherence", rate), ("adherence_low", rate - 0.04), ("adherence_high", rate + 0.03),
                              ("adherence_n", 201), ("adherence_color", color), ("pair_adherence", rate / 2)):
            add(metric, value)
        if variant != "torch-fp32":
            for metric, value in (("adherence_lost", 9), ("adherence_gained", 2), ("adherence_paired_p", 0.065)):
                add(metric, value, "images")
    run = write_run(recorder.frame(), {}, tmp_path, run_id="run-x")
    script = _script("experiment")
    assert script.main([str(run), "--order", odd, "torch-fp32"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| variant | one object, all right [95%] | color |") and "| lost / gained |" in lines[0]
    assert "| 9 / 2 (p 0.065) |" in lines[2] and "| 9 / 2" not in lines[3]
    assert lines[2].startswith(f"| `{odd}` | 60.0% [56%-63%], n=201 | 75.0% |") and "| 30.0% |" in lines[2]
    assert "| 90.00 |" in lines[2] and "| 4.00x |" in lines[2]  # FID; torch-fp32's 2.0 s over its 0.5 s
    assert lines[2].endswith("| fails |") and lines[3].endswith("| reference |")  # 60% against 95%: the rule
    assert lines[3].startswith("| `torch-fp32` | 95.0% [91%-98%], n=201 | 99.0% |")
    assert script.main([str(run), "--order", "ov-int8-qat"]) == 2
    assert "has no records of ov-int8-qat" in capsys.readouterr().err
    assert script.main([str(tmp_path / "missing")]) == 2


def _script(name: str):
    """One of the table commands' modules (`bench frontier` is bench/analysis/frontier_table.py)."""
    import importlib
    from bench.__main__ import COMMANDS
    return importlib.import_module(f"bench.{COMMANDS[name][0]}")


def _speed_run(tmp_path, run_id, scale=1.0, steps=3):
    speed = Recorder()
    for variant, seconds, rss in (("torch-fp32", 200.0, 5400), ("ov-fast", 40.0, 3000), ("ov-lossy", 20.0, 2500)):
        for index in range(5):
            slower = 1.0 if variant == "torch-fp32" else scale
            for metric, value in (("latency_projected_20", seconds * slower * (1 + index / 100)),
                                  ("latency_projected_50", 2.4 * seconds), ("latency_median", seconds / 5)):
                speed.add_round(index, model="sd15-arch", variant=variant, steps=steps, scheduler="pndm",
                                resolution="512x512", metric=metric, value=value, unit="s")
        speed.add(model="sd15-arch", variant=variant, steps=steps, scheduler="pndm", resolution="512x512",
                  metric="peak_rss", value=rss, unit="MiB")
        # ov-fast's UNet call reaches 40% of what the machine's peak allows; ov-lossy's reads above it
        for share in {"ov-fast": [0.4], "ov-lossy": [1.4]}.get(variant, []):
            for metric, value, unit in (("unet_at_peak", 100.0, "ms"), ("unet_peak_share", share, "ratio")):
                speed.add(model="sd15-arch", variant=variant, steps=steps, scheduler="pndm", resolution="512x512",
                          metric=metric, value=value, unit=unit)
    rounds = speed.rounds_frame()
    records = pd.concat([speed.frame(), rounds.groupby([c for c in rounds.columns if c not in ("round", "value")],
                                                       as_index=False)["value"].median()[speed.frame().columns]])
    return write_run(records, {}, tmp_path, run_id=run_id, rounds=rounds)


def test_the_frontier_table_joins_speed_at_full_size_with_quality_on_shapes(tmp_path):
    speed_run = _speed_run(tmp_path, "speed")
    quality = Recorder()
    for variant, rate, fid, lost, gained in (("torch-fp32", 0.99, 70.0, None, None), ("ov-fp32", 0.99, 70.0, 0, 0),
                                             ("ov-fast", 0.98, 80.0, 3, 2), ("ov-lossy", 0.90, 120.0, 20, 1)):
        values = (("adherence", rate), ("adherence_n", 200), ("fid", fid), ("adherence_lost", lost),
                  ("adherence_gained", gained))
        for metric, value in values:
            if value is not None:
                quality.add(model="shapes", variant=variant, steps=20, scheduler="pndm", resolution="64x64",
                            metric=metric, value=value, unit="")
    quality_run = write_run(quality.frame(), {}, tmp_path, run_id="quality")
    script = _script("frontier")
    text = script.table(speed_run, quality_run, plot=tmp_path / "frontier.png")
    assert (tmp_path / "frontier.png").stat().st_size > 0
    header, *lines = text.splitlines()[:1] + text.splitlines()[2:]
    assert "20 steps (s, projected)" in header and "94% interval of the median" in header  # 3 steps ran, 5 rounds
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines}
    assert rows["`ov-fast`"][0] == "40.80" and rows["`ov-fast`"][1].startswith("5.00x [")  # paired by round
    assert rows["`ov-fast`"][4] == "100.0 ms (40%)" and rows["`torch-fp32`"][4] == ""
    impossible = rows["`ov-lossy`"][4]
    assert impossible.startswith("100.0 ms (140%: above the peak") and "not a measurement" in impossible
    assert rows["`ov-fast`"][5] == "3000" and rows["`ov-fast`"][-1] == "holds"
    assert rows["`ov-lossy`"][-1] == "fails" and rows["`ov-lossy`"][1].startswith("10.00x")
    assert rows["`torch-fp32`"][-1] == "reference"
    repeat = _speed_run(tmp_path, "repeat", scale=1.1)  # the second run found the variants 10% slower
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in script.table(speed_run, quality_run, repeat=repeat).splitlines()[2:]}
    assert rows["`ov-fast`"][2].startswith("4.55x [") and rows["`ov-fast`"][3] == "4.55x-5.00x"
    speed_only = _speed_run(tmp_path, "repeat-some", scale=1.1)
    records = pd.read_csv(speed_only / "records.csv")
    records[records.variant != "ov-lossy"].to_csv(speed_only / "records.csv", index=False)
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in script.table(speed_run, quality_run, repeat=speed_only).splitlines()[2:]}
    assert rows["`ov-lossy`"][2] == "not repeated" and rows["`ov-lossy`"][3] == ""
    direct = _speed_run(tmp_path, "direct", steps=20)
    assert "20 steps (s) |" in script.table(direct, quality_run).splitlines()[0]
    with pytest.raises(ValueError, match="no records of ov-missing"):
        script.table(speed_run, quality_run, ["ov-missing"])


def test_the_runtimes_table_pairs_each_variant_with_its_genai_copy_by_round(tmp_path):
    run = Recorder()
    for variant, seconds in (("ov-int8-ptq", 12.0), ("ov-int8-ptq[runtime=genai]", 10.0), ("torch-fp32", 30.0)):
        for index in range(5):
            drift = 1 + index / 10  # the machine slows from round to round: pairing by round cancels it
            run.add_round(index, model="sd15-arch", variant=variant, steps=3, scheduler="pndm", resolution="512x512",
                          metric="latency_median", value=seconds * drift, unit="s")
        run.add(model="sd15-arch", variant=variant, steps=3, scheduler="pndm", resolution="512x512",
                metric="peak_rss", value=5000 if "genai" in variant else 5300, unit="MiB")
    run.add(model="sd15-arch", variant="ov-int8-ptq[runtime=genai]", steps=3, scheduler="pndm",
            resolution="512x512", metric="runtime_psnr", value=43.21, unit="dB")
    rounds = run.rounds_frame()
    records = pd.concat([run.frame(), rounds.groupby([c for c in rounds.columns if c not in ("round", "value")],
                                                     as_index=False)["value"].median()[run.frame().columns]])
    folder = write_run(records, {}, tmp_path, run_id="both", rounds=rounds)
    script = _script("runtimes")
    lines = script.table(folder).splitlines()
    assert len(lines) == 4  # header, rule, one row per runtime of the one variant run on both
    python, genai = ([c.strip() for c in line.split("|")[1:-1]] for line in lines[2:])
    assert python[:3] == ["`ov-int8-ptq`", "Python (optimum-intel)", "14.40"] and python[3] == ""
    assert genai[1] == "GenAI" and genai[3].startswith("1.20x [1.20, 1.20]") and genai[11] == "43.2"
    assert genai[9] == "5000" and python[9] == "5300"
    assert script.counterpart("ov-int8-qat[steps=2,runtime=genai]") == "ov-int8-qat[steps=2]"
    assert script.counterpart("ov-fp32") is None
    quality_only = write_run(records[records.metric != "latency_median"], {}, tmp_path, run_id="quality")
    genai = [c.strip() for c in script.table(quality_only).splitlines()[3].split("|")[1:-1]]
    assert genai[3] == "" and genai[11] == "43.2"  # no rounds, no ratio; the quality columns still there
    only_python = write_run(records[records.variant != "ov-int8-ptq[runtime=genai]"], {}, tmp_path, run_id="one",
                            rounds=rounds[rounds.variant != "ov-int8-ptq[runtime=genai]"])
    with pytest.raises(ValueError, match="no variant run on both runtimes"):
        script.table(only_python)


def test_the_headline_comes_first_with_speedup_memory_footprint_and_the_verdict(tmp_path):
    """The headline restates the full table's cells (speedup with its interval, peak RSS, footprint) and the one
    rule's verdict with its sample: paired speedups from rounds, verdicts from adherence records."""
    recorder = Recorder()
    case = dict(model="shapes", steps=20, scheduler="pndm", resolution="64x64")
    for variant, seconds in (("torch-fp32", [4.0, 4.2, 4.1, 4.4, 4.0]), ("ov-int8-ptq", [1.0, 1.1, 1.0, 1.2, 1.0])):
        for index, value in enumerate(seconds):
            recorder.add_round(index, **case, variant=variant, metric="latency_median", value=value, unit="s")
    for variant, right, lost in (("torch-fp32", 0.99, None), ("ov-int8-ptq", 0.95, 8)):
        recorder.add(**case, variant=variant, metric="adherence", value=right, unit="ratio")
        recorder.add(**case, variant=variant, metric="adherence_n", value=100, unit="images")
        recorder.add(**case, variant=variant, metric="adherence_low", value=right - 0.05, unit="ratio")
        recorder.add(**case, variant=variant, metric="adherence_high", value=min(right + 0.01, 1), unit="ratio")
        if lost is not None:
            recorder.add(**case, variant=variant, metric="adherence_lost", value=lost, unit="images")
            recorder.add(**case, variant=variant, metric="adherence_gained", value=0, unit="images")
        recorder.add(**{**case, "steps": None, "scheduler": None}, variant=variant, metric="footprint_total",
                     value={"torch-fp32": 20.0, "ov-int8-ptq": 10.0}[variant], unit="MB")
        recorder.add(**case, variant=variant, metric="peak_rss", value=1000.0, unit="MiB")
    from bench.analysis.runs import records_from_rounds
    rounds = recorder.rounds_frame()
    records = pd.concat([recorder.frame(), records_from_rounds(rounds)], ignore_index=True)
    summary = (write_run(records, {}, tmp_path, run_id="run", rounds=rounds) / "summary.md").read_text()
    headline, rest = summary.split("## All measurements")
    assert "## Headline: shapes 64x64, 20 pndm steps" in headline
    row = next(line for line in headline.splitlines() if line.startswith("| ov-int8-ptq |"))
    speedup = next(line for line in rest.splitlines() if line.startswith("| shapes")
                   and "| ov-int8-ptq |" in line).split(" | ")[6]
    assert speedup.startswith("4.") and f"| {speedup} |" in row  # the full table's cell, interval and all
    assert "| 1000 |" in row and "10.0 (0.50x)" in row
    # 8 lost, 0 gained: McNemar p = 0.008, a significant loss; adherence 4 points under torch-fp32's
    assert "| fails; adherence 95.0% [90%-96%], n=100 |" in row


def test_the_table_commands_are_bench_subcommands(capsys):
    """`bench NAME ...` reaches the same module the tests above drive, with its own options and help."""
    from bench.__main__ import COMMANDS, main
    for name in COMMANDS:
        with pytest.raises(SystemExit) as stop:
            main([name, "--help"])
        assert stop.value.code == 0 and capsys.readouterr().out.startswith(f"usage: bench {name}")
    assert main(["experiment", "/nonexistent/run"]) == 2 and "bench experiment:" in capsys.readouterr().err


def test_choose_guidance_picks_the_lowest_scale_whose_interval_reaches_the_best():
    from bench.tools.choose_guidance import chosen, main
    rows = [{"guidance": 1.5, "adherence": 0.70, "adherence_low": 0.60, "adherence_high": 0.79},
            {"guidance": 3.0, "adherence": 0.90, "adherence_low": 0.85, "adherence_high": 0.94},
            {"guidance": 5.0, "adherence": 0.91, "adherence_low": 0.86, "adherence_high": 0.95},
            {"guidance": 2.0, "adherence": 0.84, "adherence_low": 0.78, "adherence_high": 0.88}]
    assert chosen(rows)["guidance"] == 2.0  # 2's upper end (88%) reaches 5's lower (86%); 1.5's (79%) does not
    with pytest.raises(SystemExit, match="comma-separated numbers"):
        main(["/nowhere", "--scales", "2,x"])
