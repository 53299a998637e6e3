"""The training loop the shapes model's three stages share: steps, held-out loss, progress with ETA,
checkpoints and resume.

Each step's data and noise are drawn from a seed that is a function of the step number alone, so a run that
resumes from a checkpoint takes the same steps as one that never stopped.
"""
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..progress import say

Row = dict


@dataclass
class Stage:
    name: str
    steps: int
    step: Callable[[int], float]  # one optimizer step (data drawn from the step number); returns its loss
    validate: Callable[[], float]  # loss on a fixed held-out batch, no gradient
    # everything a resume needs, by name: modules, optimizer, schedule, EMA (anything with state_dict and
    # load_state_dict); the names are the checkpoint's keys
    stateful: dict
    validate_every: int = 100
    checkpoint_every: int = 500
    report_every: int = 25

    def state(self) -> dict:
        return {name: part.state_dict() for name, part in self.stateful.items()}

    def load_state(self, saved: dict) -> None:
        for name, part in self.stateful.items():
            part.load_state_dict(saved[name])


def step_seed(seed: int, step: int) -> int:
    return seed * 1_000_003 + step


def warmup_cosine(warmup: int, steps: int) -> Callable[[int], float]:
    """A learning-rate factor: linear warm-up, then a cosine down to a tenth of the rate."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, steps - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def run_stage(stage: Stage, checkpoint: Path | None = None,
              on_row: Callable[[Row], None] = lambda row: None) -> list[Row]:
    """Runs (or resumes) `stage`; returns its rows {step, loss, validation_loss, seconds}: step 0 is the
    held-out loss before training, validation_loss is set every validate_every steps and at the end."""
    rows, first, spent = [], 1, 0.0
    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        stage.load_state(saved["state"])
        rows, first, spent = saved["rows"], saved["step"] + 1, saved["seconds"]
        say(f"{stage.name}: resuming at step {first} of {stage.steps} from {checkpoint}")
        for row in rows:
            on_row(row)
    else:
        rows.append(_row(0, None, stage.validate(), spent))
        on_row(rows[-1])
    started = time.perf_counter() - spent
    for step in range(first, stage.steps + 1):
        loss = stage.step(step)
        held_out = stage.validate() if step % stage.validate_every == 0 or step == stage.steps else None
        rows.append(_row(step, loss, held_out, time.perf_counter() - started))
        on_row(rows[-1])
        if step % stage.report_every == 0 or step == stage.steps:
            _report(stage, rows, first)
        if checkpoint is not None and (step % stage.checkpoint_every == 0 or step == stage.steps):
            _save(checkpoint, {"state": stage.state(), "rows": rows, "step": step, "seconds": rows[-1]["seconds"]})
    return rows


def _row(step, loss, held_out, seconds) -> Row:
    return {"step": step, "loss": loss, "validation_loss": held_out, "seconds": round(seconds, 3)}


def _report(stage: Stage, rows: list[Row], first: int) -> None:
    step, elapsed = rows[-1]["step"], rows[-1]["seconds"]
    since = [r for r in rows if r["step"] >= first]
    rate = (since[-1]["seconds"] - since[0]["seconds"]) / max(len(since) - 1, 1) if len(since) > 1 else elapsed
    recent = [r["loss"] for r in rows[-stage.report_every:] if r["loss"] is not None]
    held = next((r["validation_loss"] for r in reversed(rows) if r["validation_loss"] is not None), None)
    say(f"{stage.name} step {step}/{stage.steps}: loss {sum(recent) / len(recent):.4f} (mean of last "
        f"{len(recent)}), held-out {held:.4f}, {elapsed / 60:.1f} min, ETA {rate * (stage.steps - step) / 60:.1f} min")


def _save(path: Path, payload: dict) -> None:
    """Written beside and renamed into place: a run killed while saving leaves the previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def write_rows(path: Path, stage: str, rows: list[Row]) -> None:
    with path.open("a") as handle:
        for row in rows:
            handle.write(json.dumps({"stage": stage, **row}) + "\n")
