"""Quantization-aware training of the UNet: NNCF fake quantization, distillation from the FP32 teacher, EMA.

NNCF 3.x has no `create_compressed_model` and no built-in distillation: `nncf.quantize` on the torch module
inserts trainable quantizers, and the training loop, the distillation loss and the EMA are ours. The EMA is
diffusers' `EMAModel` over the float weights only: quantizer scales train but are never averaged (an average
of ranges is not a range that was ever learned), and the exported UNet carries the EMA weights.

Every micro-step draws its examples, noise and timesteps from a generator seeded by (seed, micro-step), so a
run resumed from a checkpoint continues exactly as the uninterrupted run would.
"""
import csv
import os
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from . import int8_policy, progress
from .errors import BadArgument
from .export import UNetCall, convert_unet
from .nncf_extension import ensure_nncf_extension
from .qat_settings import Training
from .training_data import Examples

LOG = "training_log.csv"
# validation_loss: the distillation loss on fixed held-out batches (see evaluation_loss), every validate_every
# steps; the per-step loss beside it swings by 10x with the timesteps drawn, so only this one shows learning.
LOG_FIELDS = ("step", "loss", "task_loss", "distillation_loss", "validation_loss", "learning_rate", "ema_decay",
              "seconds")
KEEP_CHECKPOINTS = 2


def quantize_for_training(unet, calibration: list, recipe) -> torch.nn.Module:
    """The UNet with NNCF fake quantizers, initialized on the same calibration inputs as PTQ."""
    ensure_nncf_extension()
    data = [tuple(torch.from_numpy(s[k]) for k in ("sample", "timestep", "encoder_hidden_states"))
            for s in calibration]
    return int8_policy.quantize(UNetCall(unet), data, recipe, graph="torch")


def split_parameters(model: torch.nn.Module) -> tuple[list, list]:
    """(float weights, quantizer parameters): the EMA averages only the first."""
    from nncf.torch.quantization.layers import BaseQuantizer
    quantizer = {id(p) for module in model.modules() if isinstance(module, BaseQuantizer)
                 for p in module.parameters()}
    weights, quantizers = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (quantizers if id(parameter) in quantizer else weights).append(parameter)
    return weights, quantizers


class Trainer:
    """One QAT run in a work folder that holds its checkpoints and log; `run()` resumes what it finds there."""

    def __init__(self, student, teacher, examples: Examples, noise_scheduler, settings: Training, workdir: Path,
                 on_step: Callable[[int, dict], None] | None = None):
        from diffusers.training_utils import EMAModel
        self.student, self.teacher, self.examples = student, teacher, examples
        self.noise_scheduler, self.settings, self.workdir = noise_scheduler, settings, Path(workdir)
        self.on_step = on_step
        self.workdir.mkdir(parents=True, exist_ok=True)
        device = torch.device(settings.device)
        self.student.to(device).train()
        self.teacher.to(device).eval().requires_grad_(False)
        self.weights, self.quantizers = split_parameters(self.student)
        self.optimizer = torch.optim.AdamW([{"params": self.weights, "lr": settings.learning_rate},
                                            {"params": self.quantizers, "lr": settings.quantizer_learning_rate}])
        self.ema = EMAModel(self.weights, decay=settings.ema_decay) if settings.ema else None
        if self.ema is not None:
            self.ema.to(settings.ema_device)
        self.step = 0

    # --- checkpoints -----------------------------------------------------------------------------------
    def checkpoints(self) -> list[Path]:
        return sorted(self.workdir.glob("checkpoint-*.pt"))

    def save_checkpoint(self) -> Path:
        path = self.workdir / f"checkpoint-{self.step:06d}.pt"
        tmp = path.with_suffix(".tmp")
        torch.save({"step": self.step, "student": self.student.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "ema": self.ema.state_dict() if self.ema else None}, tmp)
        os.replace(tmp, path)  # a kill mid-save leaves a .tmp, never a truncated checkpoint
        for old in self.checkpoints()[:-KEEP_CHECKPOINTS]:
            old.unlink()
        return path

    def resume(self) -> int:
        found = self.checkpoints()
        if not found:
            return 0
        state = torch.load(found[-1], weights_only=False)
        self.student.load_state_dict(state["student"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
            self.ema.to(self.settings.ema_device)
        self.step = state["step"]
        self._truncate_log(self.step)
        progress.say(f"QAT resumed from {found[-1].name} (step {self.step}/{self.settings.steps})")
        return self.step

    # --- the loop --------------------------------------------------------------------------------------
    def micro_batch(self, micro_step: int, stream: int = 0) -> tuple:
        """Inputs of one micro-step, a pure function of (seed, micro-step); stream 1 is for evaluation."""
        s = self.settings
        generator = torch.Generator().manual_seed((s.seed * 2 + stream) * 1_000_003 + micro_step)
        index = torch.randint(len(self.examples), (s.batch_size,), generator=generator)
        latents, embeddings = self.examples.draw(index)
        noise = torch.randn(latents.shape, generator=generator)
        timesteps = torch.randint(self.noise_scheduler.config.num_train_timesteps, (s.batch_size,),
                                  generator=generator)
        unconditional = torch.rand(s.batch_size, generator=generator) < s.uncond_probability
        embeddings[unconditional] = self.examples.empty_embedding
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        target = task_target(self.noise_scheduler, latents, noise, timesteps)
        device = torch.device(s.device)
        return noisy.to(device), timesteps.to(device), embeddings.to(device), target.to(device)

    def batches(self, micro_steps: range, stream: int = 0):
        """The micro-batches of `micro_steps`, concatenated micro_batches_per_pass at a time: (inputs, share),
        share being the fraction of the micro-steps a pass holds (micro-batches are all of one size)."""
        per_pass = self.settings.micro_batches_per_pass or 1
        for start in range(0, len(micro_steps), per_pass):
            group = micro_steps[start:start + per_pass]
            drawn = [self.micro_batch(m, stream) for m in group]
            yield tuple(torch.cat(parts) for parts in zip(*drawn)), len(group) / len(micro_steps)

    def accumulate_gradients(self) -> dict:
        """The gradient of the current step's loss, summed into .grad over its micro-batches; the mean losses."""
        s = self.settings
        totals = {"loss": 0.0, "task_loss": 0.0, "distillation_loss": 0.0}
        first_micro_step = self.step * s.accumulation
        for (noisy, timesteps, embeddings, target), share in self.batches(
                range(first_micro_step, first_micro_step + s.accumulation)):
            prediction = self.student(noisy, timesteps, embeddings)
            task = F.mse_loss(prediction, target)
            loss = s.task_weight * task
            if s.distillation_weight:
                with torch.no_grad():
                    teacher = self.teacher(noisy, timesteps, embeddings, return_dict=False)[0]
                distillation = F.mse_loss(prediction, teacher)
                loss = loss + s.distillation_weight * distillation
                totals["distillation_loss"] += distillation.item() * share
            (loss * share).backward()
            totals["loss"] += loss.item() * share
            totals["task_loss"] += task.item() * share
        return totals

    def run(self) -> None:
        s = self.settings
        self.resume()
        with progress.bar("QAT steps", s.steps, start=self.step) as shown:
            self._loop(shown)

    def _loop(self, shown) -> None:
        """Steps until done, each logged to the training log (training_log.csv), the bar showing the loss."""
        s = self.settings
        started = time.perf_counter()
        while self.step < s.steps:
            totals = self.accumulate_gradients()
            torch.nn.utils.clip_grad_norm_(self.weights + self.quantizers, s.max_grad_norm)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            decay = 0.0
            if self.ema is not None:
                self.ema.step(self.weights)
                decay = self.ema.cur_decay_value
            self.step += 1
            validation = None
            if self.step % s.validate_every == 0 or self.step == s.steps:
                validation = self.evaluation_loss()
            row = {"step": self.step, **totals, "validation_loss": validation, "learning_rate": s.learning_rate,
                   "ema_decay": decay, "seconds": round(time.perf_counter() - started, 2)}
            self._log(row)
            if self.step % s.checkpoint_every == 0 or self.step == s.steps:
                self.save_checkpoint()
            held_out = "" if validation is None else f", held-out {validation:.5f}"
            shown(self.step, f"loss {row['loss']:.4f}{held_out}")
            if self.on_step:
                self.on_step(self.step, row)

    def evaluation_loss(self, batches: int = 8) -> float:
        """Distillation loss on fixed batches drawn apart from training's: comparable across steps and runs."""
        was_training = self.student.training
        self.student.eval()
        total = 0.0
        with torch.no_grad():
            for (noisy, timesteps, embeddings, _), share in self.batches(range(batches), stream=1):
                teacher = self.teacher(noisy, timesteps, embeddings, return_dict=False)[0]
                total += F.mse_loss(self.student(noisy, timesteps, embeddings), teacher).item() * share
        self.student.train(was_training)
        return total

    def final_module(self) -> torch.nn.Module:
        """The student with its EMA weights (what gets exported), in eval mode."""
        if self.ema is not None:
            self.ema.copy_to(self.weights)
        return self.student.eval()

    def _log(self, row: dict) -> None:
        path = self.workdir / LOG
        new = not path.exists()
        with path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, LOG_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow({k: (float(f"{v:.6g}") if isinstance(v, float) else v) for k, v in row.items()})

    def _truncate_log(self, step: int) -> None:
        """Rows logged after the checkpoint we resume from would otherwise appear twice."""
        path = self.workdir / LOG
        if path.exists():
            with path.open() as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= step]
            path.unlink()
            for r in rows:
                self._log(r)


def task_target(noise_scheduler, latents, noise, timesteps):
    """What the UNet is trained to predict, by the model's prediction type."""
    kind = noise_scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return noise_scheduler.get_velocity(latents, noise, timesteps)
    if kind == "sample":
        return latents
    raise BadArgument(f"prediction type {kind!r} of the model's scheduler is not one QAT knows "
                      f"(epsilon, v_prediction, sample)")


def export_student(student: torch.nn.Module, reference_ir: Path, out: Path) -> None:
    """The trained student as IR, its fake-quantized weights stored as int8 constants (as NNCF's PTQ writes)."""
    convert_unet(student, reference_ir, out, int8_weights=True)
