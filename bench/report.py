"""Turn tidy records into a run folder: records.csv, environment.json and a summary shaped like the
reference's table (latency, speedup against torch-fp32, peak memory, footprint and its ratio)."""
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pandas as pd

from .runs import read_environment

BASELINE = "torch-fp32"
RUN_KEYS = ["model", "resolution", "steps", "scheduler"]
# metric in the records -> column in the summary
LATENCY_COLUMNS = {"latency_median": "latency_s", "step_median": "step_ms", "unet_call_median": "unet_ms"}
QUALITY_COLUMNS = {"psnr": "psnr", "ssim": "ssim", "latent_mad": "latent_mad", "unet_error": "unet_error",
                   "fid": "fid", "kid": "kid",
                   "fid_samples": "fid_samples", "clip_score": "clip"}
PER_VARIANT_COLUMNS = {"peak_rss": "peak_rss_mib", "footprint_total": "footprint_mb"}


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


def summary_table(records: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, resolution, steps, scheduler, variant) with the reference's columns."""
    records = records.copy()
    records["steps"] = records["steps"].astype("Int64")
    latency = records[records.metric.isin(list(LATENCY_COLUMNS) + list(QUALITY_COLUMNS))]
    if latency.empty:
        table = records[["model", "resolution", "variant"]].drop_duplicates()
        table[["steps", "scheduler"]] = pd.NA
    else:
        table = latency.pivot_table(index=RUN_KEYS + ["variant"], columns="metric", values="value",
                                    aggfunc="median").rename(columns=LATENCY_COLUMNS | QUALITY_COLUMNS).reset_index()
        table.columns.name = None
        if "latency_s" in table:
            base = table[table.variant == BASELINE].set_index(RUN_KEYS)["latency_s"].rename("base_latency")
            table = table.join(base, on=RUN_KEYS)
            table["speedup"] = table["base_latency"] / table["latency_s"]
        if "unet_ms" in table:
            base_unet = table[table.variant == BASELINE].set_index(RUN_KEYS)["unet_ms"].rename("base_unet")
            table = table.join(base_unet, on=RUN_KEYS)
            table["unet_speedup"] = table["base_unet"] / table["unet_ms"]
        table = table.drop(columns=[c for c in ("base_latency", "base_unet") if c in table])
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


FORMATS = {"latency_s": "{:.3f}", "step_ms": "{:.1f}", "unet_ms": "{:.1f}", "speedup": "{:.2f}x",
           "unet_speedup": "{:.2f}x", "peak_rss_mib": "{:.0f}", "footprint_mb": "{:.1f}",
           "footprint_ratio": "{:.2f}x", "psnr": "{:.1f}", "ssim": "{:.3f}", "latent_mad": "{:.4f}",
           "unet_error": "{:.2%}", "fid": "{:.2f}", "kid": "{:.4f}", "fid_samples": "{:.0f}", "clip": "{:.2f}"}
HEADERS = {"latency_s": "latency (s)", "step_ms": "per step (ms)", "unet_ms": "UNet call (ms)",
           "speedup": "speedup", "unet_speedup": "UNet speedup", "peak_rss_mib": "peak RSS (MiB)",
           "footprint_mb": "footprint (MB)", "footprint_ratio": "footprint ratio", "psnr": "PSNR (dB)",
           "ssim": "SSIM", "latent_mad": "latent MAD", "unet_error": "UNet error", "fid": "FID", "kid": "KID", "fid_samples": "FID n",
           "clip": "CLIP"}


def markdown(table: pd.DataFrame) -> str:
    shown = table.copy()
    for column, fmt in FORMATS.items():
        if column in shown:
            shown[column] = shown[column].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    columns = ["model", "resolution", "steps", "scheduler", "variant"] + [c for c in FORMATS if c in shown]
    shown = shown[columns].rename(columns=HEADERS).astype(object)
    shown = shown.where(shown.notna(), "").map(str)
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def environment_line(env: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
    return (f"Machine: {env.get('cpu_model')} ({env.get('logical_cores')} logical cores, {env.get('threads_used')} "
            f"threads used), ISA: {'+'.join(env.get('isa', [])) or 'unknown'}; OpenVINO precision hint "
            f"{env.get('ov_precision_hint')}, {env.get('ov_performance_hint')} hint. {versions}.")


def render_summary(run: Path) -> str:
    run = Path(run)
    if not (run / "records.csv").is_file():
        raise FileNotFoundError(f"{run} has no records.csv: pass a run folder written by the suites")
    records = pd.read_csv(run / "records.csv")
    env = read_environment(run)
    text = f"# sdopt-bench run {run.name}\n\n{environment_line(env)}\n\n"
    text += markdown(summary_table(records)) if not records.empty else "No measurements were recorded.\n"
    text += profile_section(run)
    text += ("\nspeedup: torch-fp32 latency / variant latency, same steps and scheduler. footprint: model files "
             "on disk (UNet, text encoder, VAE). peak RSS: load + one generation in a fresh process. PSNR, SSIM, "
             "latent MAD: against the torch-fp32 image from the same latents, steps and scheduler (PSNR 100 = "
             "identical). UNet error: relative L2 distance of the UNet's predictions to torch-fp32's on the same "
             "inputs (recorded from torch-fp32's generations). FID/KID: against the torch-fp32 images unless a reference folder was given; FID n is "
             "the number of images, and below 50 the values only rank variants of one run.\n")
    return text


def render_figures(run: Path) -> dict:
    """tradeoff.png, grids/ and report.html in the run folder; returns what was written."""
    from .figures import image_grids, loss_curves, tradeoff_plot
    run = Path(run)
    records = pd.read_csv(run / "records.csv")
    table = summary_table(records) if not records.empty else pd.DataFrame()
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
        shown = table.copy()
        for column, fmt in FORMATS.items():
            if column in shown:
                shown[column] = shown[column].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
        html.append(shown.rename(columns=HEADERS).to_html(index=False, na_rep=""))
    if plot:
        html.append("<h2>Speed and fidelity</h2><img src='tradeoff.png'>")
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
    import html
    return html.escape(text)


def profile_section(run: Path, top: int = 6) -> str:
    """The heaviest (op type, kernel) pairs of each profiled variant's UNet call."""
    text = ""
    for path in sorted(run.glob("profile-*.csv")):
        table = pd.read_csv(path).head(top)
        text += f"\nWhere {path.stem.removeprefix('profile-')}'s UNet call spends its time (top {top}):\n\n"
        text += "| op | kernel | ms | layers | share |\n|---|---|---|---|---|\n"
        text += "".join(f"| {r.node_type} | {r.exec_type} | {r.ms:.1f} | {r.layers} | {r.share:.0%} |\n"
                        for r in table.itertuples())
    return text


def write_run(records: pd.DataFrame, env: dict, results_root: Path, extra_files: dict | None = None,
              run_id: str | None = None) -> Path:
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
    link = results_root / "latest"
    tmp_link = results_root / f".latest.{run_id}"
    os.symlink(run_id, tmp_link)
    os.replace(tmp_link, link)
    return final
