"""Turn tidy records into a run folder: records.csv, environment.json and a summary shaped like the
reference's table (latency, speedup against torch-fp32, peak memory, footprint and its ratio)."""
import html
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pandas as pd

from .. import metrics
from ..conventions import MIN_FID_SAMPLES
from ..conventions import REFERENCE as BASELINE
from .figures import image_grids, loss_curves, tradeoff_plot
from .headline import headline
from .journal import progress_of
from .markdown import table as markdown_table
from .runs import read_environment, read_records, read_rounds
from .stats import MIN_REPLICATES, median_interval

RUN_KEYS = ["model", "resolution", "steps", "scheduler"]
# Prompt adherence on a shapes model: all attributes right at once, with its 95% interval and image count.
ADHERENCE = ("adherence", "pair_adherence")
# metric in the records -> column in the summary (bench/metrics.py), with adherence's interval alongside
CASE_COLUMNS = metrics.recorded_columns() | {f"{name}{part}": f"{name}{part}" for name in ADHERENCE
                                             for part in ("_low", "_high", "_n")}
PER_VARIANT_COLUMNS = metrics.recorded_columns(per_variant=True)
ATTRIBUTES = ("count", "color", "shape", "size", "position", "relation")


def _paired_speedups(rounds: pd.DataFrame | None, metric: str, name: str) -> pd.DataFrame:
    """Per case: the median over rounds of BASELINE's value over the variant's in the same round, with its
    order-statistic interval."""
    columns = RUN_KEYS + ["variant", name, f"{name}_low", f"{name}_high", f"{name}_coverage", f"{name}_n"]
    if rounds is None or rounds.empty:
        return pd.DataFrame(columns=columns)
    rows = rounds[rounds.metric == metric].copy()
    rows["steps"] = rows["steps"].astype("Int64")
    base = rows[rows.variant == BASELINE].set_index(RUN_KEYS + ["round"])["value"]
    out = []
    for (*keys, variant), group in rows.groupby(RUN_KEYS + ["variant"]):
        values = group.set_index(RUN_KEYS + ["round"])["value"]
        ratios = (base / values).dropna()
        if ratios.empty:
            continue
        found = median_interval(ratios.to_numpy())
        out.append([*keys, variant, found.median, found.low, found.high, found.coverage, found.n])
    return pd.DataFrame(out, columns=columns)


def _with_speedup(table: pd.DataFrame, column: str, name: str, paired: pd.DataFrame) -> pd.DataFrame:
    if not paired.empty:
        return table.merge(paired, on=RUN_KEYS + ["variant"], how="left")
    base = table[table.variant == BASELINE].set_index(RUN_KEYS)[column].rename("_base")
    table = table.join(base, on=RUN_KEYS)
    table[name] = table["_base"] / table[column]
    return table.drop(columns="_base")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


def summary_table(records: pd.DataFrame, rounds: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (model, resolution, steps, scheduler, variant) with the reference's columns. Speedups are
    paired: torch-fp32's time over the variant's in the same round, the median over rounds with its interval
    (`*_low`, `*_high`, `*_coverage`, `*_n`); without rounds, the ratio of the two medians."""
    records = records.copy()
    records["steps"] = records["steps"].astype("Int64")
    latency = records[records.metric.isin(list(CASE_COLUMNS))]
    if latency.empty:
        table = records[["model", "resolution", "variant"]].drop_duplicates()
        table[["steps", "scheduler"]] = pd.NA
    else:
        table = latency.pivot_table(index=RUN_KEYS + ["variant"], columns="metric", values="value",
                                    aggfunc="median").rename(columns=CASE_COLUMNS).reset_index()
        table.columns.name = None
        for metric, column, speedup in (("latency_median", "latency_s", "speedup"),
                                        ("unet_call_median", "unet_ms", "unet_speedup"),
                                        ("latency_projected_20", "e2e20_s", "speedup_20"),
                                        ("latency_projected_50", "e2e50_s", "speedup_50")):
            if column in table:
                table = _with_speedup(table, column, speedup, _paired_speedups(rounds, metric, speedup))
    per_variant = records[records.metric.isin(list(PER_VARIANT_COLUMNS))]
    if not per_variant.empty:
        wide = per_variant.pivot_table(index=["model", "resolution", "variant"], columns="metric", values="value",
                                       aggfunc="max").rename(columns=PER_VARIANT_COLUMNS).reset_index()
        wide.columns.name = None
        table = table.merge(wide, on=["model", "resolution", "variant"], how="left")
        if "footprint_mb" in table:
            base = wide[wide.variant == BASELINE].set_index(["model", "resolution"])["footprint_mb"]
            table["footprint_ratio"] = table["footprint_mb"] / table.set_index(
                ["model", "resolution"]).index.map(base).to_numpy(dtype=float)
    return table.sort_values(["model", "resolution", "steps", "scheduler", "variant"], ignore_index=True)


FORMATS = {column: spec.format for column, spec in metrics.columns().items()}
HEADERS = {column: spec.label for column, spec in metrics.columns().items()}
SPEEDUPS = ("speedup", "unet_speedup", "speedup_20", "speedup_50")


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """The summary's cells as text; a paired speedup carries its interval, and its round count when too few."""
    shown = table.copy()
    for column, fmt in FORMATS.items():
        if column in shown:
            shown[column] = shown[column].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    for name in SPEEDUPS:
        if f"{name}_low" in table:
            shown[name] = [_with_interval(cell, row, name) for cell, (_, row) in zip(shown[name], table.iterrows())]
    for name in ADHERENCE:
        if f"{name}_low" in table:
            shown[name] = [cell if not cell or pd.isna(row[f"{name}_low"]) else
                           f"{cell} [{row[f'{name}_low']:.0%}-{row[f'{name}_high']:.0%}], n={row[f'{name}_n']:.0f}"
                           for cell, (_, row) in zip(shown[name], table.iterrows())]
    return shown


def adherence_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per case and variant, the share of images right on each attribute (single- and two-object prompts)."""
    names = {f"{prefix}_{a}": (kind, a) for prefix, kind in (("adherence", "one object"),
                                                              ("pair_adherence", "two objects")) for a in ATTRIBUTES}
    names |= {"adherence": ("one object", "all"), "pair_adherence": ("two objects", "all")}
    rows = records[records.metric.isin(list(names))].copy()
    if rows.empty:
        return pd.DataFrame()
    rows["steps"] = rows["steps"].astype("Int64")
    rows["prompts"] = rows.metric.map(lambda m: names[m][0])
    rows["attribute"] = rows.metric.map(lambda m: names[m][1])
    table = rows.pivot_table(index=RUN_KEYS + ["prompts", "variant"], columns="attribute", values="value",
                             aggfunc="median").reset_index()
    table.columns.name = None
    order = [a for a in ("all",) + ATTRIBUTES if a in table]
    return table[RUN_KEYS + ["prompts", "variant"] + order]


def adherence_section(records: pd.DataFrame) -> str:
    table = adherence_table(records)
    if table.empty:
        return ""
    shown = table.astype(object)
    for column in ("all",) + ATTRIBUTES:
        if column in shown:
            shown[column] = table[column].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
    shown = shown.where(shown.notna(), "").map(str)
    intro = ("\n## Prompt adherence by attribute\n\nThe share of images the exact scorer finds right on each "
             "attribute (\"all\": every attribute at once).\n\n")
    return intro + markdown_table(list(shown.columns), shown.itertuples(index=False))


def _with_interval(cell: str, row, name: str) -> str:
    n = row.get(f"{name}_n")
    if not cell or pd.isna(n) or row["variant"] == BASELINE:
        return cell
    if pd.isna(row[f"{name}_low"]):
        return f"{cell} (n={int(n)})"
    span = f"{row[f'{name}_low']:.2f}-{row[f'{name}_high']:.2f}"
    if n < MIN_REPLICATES:
        return f"{cell} (n={int(n)}: {span}, {row[f'{name}_coverage']:.0%})"
    return f"{cell} [{span}]"


def markdown(table: pd.DataFrame) -> str:
    shown = formatted(table)
    columns = ["model", "resolution", "steps", "scheduler", "variant"] + [c for c in FORMATS if c in shown]
    shown = shown[columns].rename(columns=HEADERS).astype(object)
    shown = shown.where(shown.notna(), "").map(str)
    return markdown_table(list(shown.columns), shown.itertuples(index=False))


def environment_line(env: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
    isa = "+".join(env.get("isa", [])) or "unknown"
    recipes = env.get("recipe_isa_class")
    if env.get("isa_override"):
        recipes = f"{recipes} (SDOPT_ISA override; the machine is {env.get('isa_class')})"
    text = (f"Machine: {env.get('cpu_model')} ({env.get('logical_cores')} logical cores, {env.get('threads_used')} "
            f"threads used), ISA: {isa}; recipes resolved for {recipes or 'unknown'}. ")
    machine = env.get("machine") or {}
    if machine.get("start") and machine.get("end"):
        start, end = machine["start"], machine["end"]
        text += (f"Machine speed (FP32 GEMM / conv GFLOP/s) {start['gemm_gflops']}/{start['conv_gflops']} at start, "
                 f"{end['gemm_gflops']}/{end['conv_gflops']} at end; load {start['loadavg_1m']:.2f} -> "
                 f"{end['loadavg_1m']:.2f}. ")
    guidance = (env.get("generation") or {}).get("guidance_scale")
    if guidance is not None:
        text += f"Classifier-free guidance scale {guidance:g}. "
    used = runtime_settings(env)
    if used:
        text += f"Runtime settings read back: {used}. "
    allocator = env.get("allocator")
    if allocator is not None and not allocator.get("MALLOC_MMAP_THRESHOLD_"):
        text += ("glibc's mmap threshold was left dynamic (MALLOC_MMAP_THRESHOLD_ unset): torch variants timed "
                 "before any other variant ran in the process can read slower. ")
    return text + f"{versions}."


def runtime_settings(env: dict) -> str:
    """What the variants' runtimes used, as read back, each distinct setting once."""
    seen = {}
    for name, found in (env.get("variants") or {}).items():
        settings = found.get("settings", {})
        runtime = settings.get("runtime", "")
        components = [props for props in settings.values() if isinstance(props, dict)]  # compiled components
        for props in components:
            line = (f"{runtime} {props.get('INFERENCE_PRECISION_HINT')}, {props.get('PERFORMANCE_HINT')} hint, "
                    f"{props.get('NUM_STREAMS')} stream(s), {props.get('INFERENCE_NUM_THREADS')} threads")
            seen.setdefault(line, set()).add(name)
        if settings and not components:
            seen.setdefault(f"{runtime} {settings.get('dtype', '')} {settings.get('torch_threads')} threads"
                            .replace("  ", " "), set()).add(name)
    return "; ".join(sorted(seen))


NOTES = ("\nspeedup: torch-fp32's time over the variant's in the same round (a round: a fresh load, a warm-up, a "
         "timed generation), the median over rounds and, in brackets, the order-statistic interval of that median "
         "(95% coverage from 6 rounds, 94% at 5; with fewer the coverage is shown and no verdict should rest on it). "
         "footprint: model files on disk (UNet, text encoder, VAE). peak RSS: load + one generation in a fresh "
         "process; private at end: its resident memory after the generation less mapped files (OpenVINO maps the "
         "IR's weights, which then count in RSS as reclaimable page cache, beside its own repacked copy). PSNR, SSIM, latent MAD: against the torch-fp32 image from the same latents, steps and scheduler "
         "(PSNR 100 = identical). UNet error: relative L2 distance of the UNet's predictions to torch-fp32's on the "
         "same inputs (recorded from torch-fp32's generations). FID/KID: against the torch-fp32 images unless a "
         "reference folder was given (torch-fp32 against its own images is exactly 0); FID n is the number of "
         "images. On a random-weight model (tiny, sd15-arch) these are numerical drift of the optimized graph, "
         "not image quality.\n")


def render_summary(run: Path) -> str:
    run = Path(run)
    records = read_records(run)
    env = read_environment(run)
    text = f"# sdopt-bench run {run.name}\n\n{_incomplete_line(run)}{environment_line(env)}\n\n"
    if records.empty:
        text += "No measurements were recorded.\n"
    else:
        table = summary_table(records, read_rounds(run))
        text += headline(table, records, formatted(table)) + "## All measurements\n\n" + markdown(table)
    text += adherence_section(records) if not records.empty else ""
    text += warnings_section(records)
    text += profile_section(run)
    return text + NOTES


def _incomplete_line(run: Path) -> str:
    """For a run folder still marked INCOMPLETE: how far it got, and how to continue it."""
    found = progress_of(run)
    if found.complete:
        return ""
    return (f"**Run {found.sentence()}**: the tables hold the finished tests only. Continue it with "
            f"`pytest suites/ --resume {run}`.\n\n")


def warnings_section(records: pd.DataFrame) -> str:
    """What the numbers above cannot carry: FID from too few images."""
    small = records[(records.metric == "fid_samples") & (records.value < MIN_FID_SAMPLES)]
    if small.empty:
        return ""
    counts = ", ".join(sorted({f"{int(v)}" for v in small.value}))
    return (f"\n**Warning**: FID/KID come from {counts} images per set here, far below the thousands they are meant "
            f"for (at least {MIN_FID_SAMPLES} for any use): they only rank the variants of this run.\n")


def render_figures(run: Path) -> dict:
    """tradeoff.png, grids/ and report.html in the run folder; returns what was written."""
    run = Path(run)
    records = read_records(run)
    table = summary_table(records, read_rounds(run)) if not records.empty else pd.DataFrame()
    plot = tradeoff_plot(table, run / "tradeoff.png") if not table.empty else None
    curves = loss_curves(sorted(run.glob("training/*.csv")), run / "training_loss.png")
    grids = image_grids(run / "images", table, run / "grids") if (run / "images").is_dir() else []
    html = ["<!doctype html><meta charset='utf-8'><title>sdopt-bench run</title>",
            "<style>body{font-family:sans-serif;margin:2em} table{border-collapse:collapse} "
            "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right} img{max-width:100%}</style>",
            f"<h1>sdopt-bench run {run.name}</h1>"]
    env = read_environment(run)
    html.append(f"<p>{_escape(environment_line(env))}</p>")
    if not table.empty:
        shown = formatted(table)
        shown = shown[[c for c in shown.columns if not c.endswith(("_low", "_high", "_coverage", "_n"))]]
        html.append(shown.rename(columns=HEADERS).to_html(index=False, na_rep=""))
    if plot:
        html.append("<h2>Speed and quality</h2><img src='tradeoff.png'>")
    if curves:
        html.append("<h2>QAT training loss</h2><img src='training_loss.png'>")
    for path in sorted(run.glob("profile-*.csv")):
        html.append(f"<h2>{path.stem}</h2>" + pd.read_csv(path).head(12).to_html(index=False))
    if grids:
        html.append("<h2>Images (variants side by side, same latents)</h2>")
        html += [f"<p>{g.stem}</p><img src='grids/{g.name}'>" for g in grids]
    (run / "report.html").write_text("\n".join(html))
    return {"plot": plot, "grids": grids, "html": run / "report.html", "loss_curves": curves}


def _escape(text: str) -> str:
    return html.escape(text)


def profile_section(run: Path, top: int = 6) -> str:
    """The heaviest (op type, kernel) pairs of each profiled variant's UNet call."""
    text = ""
    for path in sorted(run.glob("profile-*.csv")):
        table = pd.read_csv(path).head(top)
        text += f"\nWhere {path.stem.removeprefix('profile-')}'s UNet call spends its time (top {top}):\n\n"
        text += markdown_table(["op", "kernel", "ms", "layers", "share"],
                               [(r.node_type, r.exec_type, f"{r.ms:.1f}", r.layers, f"{r.share:.0%}")
                                for r in table.itertuples()])
    return text


def write_run(records: pd.DataFrame, env: dict, results_root: Path, extra_files: dict | None = None,
              run_id: str | None = None, rounds: pd.DataFrame | None = None) -> Path:
    """Write a new run folder atomically (staged, then renamed) and point results/latest at it."""
    results_root = Path(results_root)
    run_id = run_id or new_run_id()
    final = results_root / run_id
    if final.exists():
        raise FileExistsError(f"{final} exists; run folders are never overwritten")
    staging = results_root / f".{run_id}.partial"
    staging.mkdir(parents=True)
    try:
        records.to_csv(staging / "records.csv", index=False)
        if rounds is not None and not rounds.empty:
            rounds.to_csv(staging / "rounds.csv", index=False)
        (staging / "environment.json").write_text(json.dumps(env, indent=1, default=str))
        for name, content in (extra_files or {}).items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path) and content.is_dir():
                shutil.copytree(content, target)
            elif isinstance(content, Path):
                shutil.copy(content, target)
            elif isinstance(content, pd.DataFrame):
                content.to_csv(target, index=False)
            else:
                target.write_text(content)
        (staging / "summary.md").write_text(render_summary(staging).replace(staging.name, run_id))
        render_figures(staging)
        (staging / "report.html").write_text((staging / "report.html").read_text().replace(staging.name, run_id))
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    point_latest(final)
    return final


def point_latest(run: Path) -> None:
    """results/latest -> run, swapped in one rename so a reader never finds it missing."""
    staged = run.parent / f".latest.{run.name}"
    os.symlink(run.name, staged)
    os.replace(staged, run.parent / "latest")
