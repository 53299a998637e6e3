"""Pictures of a run: the speed/quality trade-off plot and per-prompt image grids (variants side by side)."""
from collections import defaultdict
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw

from .frontier import pareto_front

MAX_GRIDS = 12  # per (steps, scheduler)


def tradeoff_plot(table: pd.DataFrame, out: Path) -> Path | None:
    """Latency against quality, one point per variant and (steps, scheduler), and the Pareto front through the
    variants no other beats on both: prompt adherence where the run scored it (a shapes model), else PSNR to
    torch-fp32."""
    quality = "adherence" if "adherence" in table and table["adherence"].notna().any() else "psnr"
    if not {"latency_s", quality} <= set(table.columns):
        return None
    points = table.dropna(subset=["latency_s", quality])
    if points.empty:
        return None
    figure, axis = _axes(4.2)
    for (steps, scheduler), group in points.groupby(["steps", "scheduler"]):
        values = group[quality] * (100 if quality == "adherence" else 1)
        dots = axis.scatter(group["latency_s"], values, label=f"{steps} steps {scheduler}")
        _draw_front(axis, group, "latency_s", quality, 100 if quality == "adherence" else 1,
                    dots.get_facecolor()[0], f"Pareto front ({steps} steps {scheduler}): no variant both faster and "
                    f"better")
        if quality == "adherence" and "adherence_low" in group:
            axis.errorbar(group["latency_s"], values, fmt="none", ecolor="grey", elinewidth=0.8,
                          yerr=[values - 100 * group["adherence_low"], 100 * group["adherence_high"] - values])
        for row, value in zip(group.itertuples(), values):
            axis.annotate(row.variant, (row.latency_s, value), fontsize=8, xytext=(4, 3),
                          textcoords="offset points")
    axis.set_xlabel("latency per image (s, lower is better)")
    if quality == "adherence":
        axis.set_ylabel("prompt adherence, all attributes right (% of images, 95% interval)")
        axis.set_title("speed / adherence trade-off")
    else:
        axis.set_ylabel("PSNR to torch-fp32 (dB, higher is better; 100 = identical)")
        axis.set_title("speed / fidelity trade-off")
    return _save(figure, axis, out)


def frontier_plot(table: pd.DataFrame, latency: str, panels: list[tuple[str, str]], out: Path,
                  title: str) -> Path | None:
    """frontier_figure saved to `out` (None when there is nothing to draw)."""
    import matplotlib.pyplot as plt
    figure = frontier_figure(table, latency, panels, title)
    if figure is None:
        return None
    figure.savefig(out, dpi=130)
    plt.close(figure)
    return out


def frontier_figure(table: pd.DataFrame, latency: str, panels: list[tuple[str, str]], title: str):
    """One panel per quality measure (`panels`: column, axis label; lower is better, drawn better-up), each with
    one point per variant (`variant`, `latency` columns), the Pareto front through those no other variant beats
    on both, and labels pushed apart so none overlaps another or a point; a variant whose `holds` column is
    False is drawn hollow. Adherence alone does not separate the variants here (their intervals overlap); the
    prompts lost and FID do."""
    from adjustText import adjust_text

    panels = [(column, label) for column, label in panels if column in table and table[column].notna().any()]
    points = table.dropna(subset=[latency])
    if points.empty or not panels:
        return None
    figure, axes = _axes(4.8, len(panels))
    for axis, (column, label) in zip(axes, panels):
        shown = points.dropna(subset=[column])
        holds = shown["holds"] if "holds" in shown else pd.Series(True, index=shown.index)
        for kept, style in ((True, {}), (False, {"facecolors": "none", "edgecolors": "C0"})):
            chosen = shown[holds == kept]
            axis.scatter(chosen[latency], chosen[column], label="quality holds" if kept else "quality does not hold",
                         zorder=3, **style)
        front = shown[pareto_front(shown, latency, column, higher_is_better=False)].sort_values(latency)
        axis.step(front[latency], front[column], where="post", color="grey", linewidth=1, alpha=0.7)
        axis.scatter(front[latency], front[column], s=160, facecolors="none", edgecolors="grey",
                     label="Pareto front: no variant both faster and better")
        axis.set_xscale("log")
        axis.invert_yaxis()  # better up
        axis.set_xlabel("end to end per image (s, log scale, lower is better)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        for row in shown.itertuples():
            axis.text(getattr(row, latency), getattr(row, column), row.variant, fontsize=6)
    handles, names = axes[0].get_legend_handles_labels()  # below the panels: never over a point
    figure.legend(handles, names, loc="lower center", ncol=len(names), fontsize=7, frameon=False)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout(rect=(0, 0.06, 1, 1))  # first: labels are placed in the final layout's pixels
    for axis in axes:
        adjust_text(axis.texts, x=[t.get_position()[0] for t in axis.texts],
                    y=[t.get_position()[1] for t in axis.texts], ax=axis, expand=(1.05, 1.4),
                    force_text=(0.5, 1.0), iter_lim=3000, arrowprops=dict(arrowstyle="-", color="grey", lw=0.4))
    return figure


def _draw_front(axis, points: pd.DataFrame, latency: str, quality: str, scale: float, color, label: str) -> None:
    """The Pareto front of `points`: a step line through its variants, each ringed (a front of one shows too)."""
    front = points[pareto_front(points, latency, quality)].sort_values(latency)
    values = scale * front[quality]
    axis.step(front[latency], values, where="post", color=color, linewidth=1, alpha=0.7)
    axis.scatter(front[latency], values, s=160, facecolors="none", edgecolors=color, label=label)


def loss_curves(logs: list[Path], out: Path) -> Path | None:
    """QAT loss per optimizer step (thin) and on the fixed held-out batches (markers), one colour per trained
    variant (its training_log.csv)."""
    if not logs:
        return None
    figure, axis = _axes(3.6)
    for path in logs:
        log = pd.read_csv(path)
        line, = axis.plot(log["step"], log["loss"], label=f"{path.stem} (per step)", linewidth=0.8, alpha=0.5)
        if "validation_loss" in log:
            held_out = log.dropna(subset=["validation_loss"])
            axis.plot(held_out["step"], held_out["validation_loss"], marker="o", markersize=3, linewidth=1.5,
                      color=line.get_color(), label=f"{path.stem} (held-out)")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("loss")
    axis.set_yscale("log")
    return _save(figure, axis, out)


def _axes(height: float, panels: int | None = None):
    """One axis (or `panels` of them side by side, as a list)."""
    import matplotlib
    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt
    if panels is None:
        return plt.subplots(figsize=(6.4, height))
    figure, axes = plt.subplots(1, panels, figsize=(6.4 * panels, height), squeeze=False)
    return figure, list(axes[0])


def _save(figure, axis, out: Path) -> Path:
    import matplotlib.pyplot as plt
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def image_grids(image_dir: Path, table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One grid per (steps, scheduler, prompt, seed): variants side by side, captioned with latency and PSNR."""
    groups = defaultdict(dict)
    for path in sorted(Path(image_dir).glob("*.png")):
        variant, run, sample = path.stem.split("__")
        groups[(run, sample)][variant] = path
    captions = {}
    for row in table.itertuples():
        latency = f"{row.latency_s:.2f}s" if "latency_s" in table and pd.notna(row.latency_s) else "-"
        psnr = f"{row.psnr:.1f}dB" if "psnr" in table and pd.notna(row.psnr) else "-"
        captions[(f"{row.steps}-{row.scheduler}", row.variant)] = f"{latency}, PSNR {psnr}"
    out_dir.mkdir(parents=True, exist_ok=True)
    written, shown = [], defaultdict(int)
    for (run, sample), variants in sorted(groups.items()):
        shown[run] += 1
        if shown[run] > MAX_GRIDS:  # a shapes run has hundreds of prompts: the first few show the variants
            continue
        images = {name: Image.open(path).convert("RGB") for name, path in sorted(variants.items())}
        width, height = next(iter(images.values())).size
        tile = max(width, 160)
        grid = Image.new("RGB", (tile * len(images), height + 30), "white")
        draw = ImageDraw.Draw(grid)
        for index, (name, image) in enumerate(images.items()):
            grid.paste(image, (index * tile, 0))
            draw.text((index * tile + 2, height + 2), name, fill="black")
            draw.text((index * tile + 2, height + 15), captions.get((run, name), ""), fill="black")
        path = out_dir / f"grid__{run}__{sample}.png"
        grid.save(path)
        written.append(path)
    return written
