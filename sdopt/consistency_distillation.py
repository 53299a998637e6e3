"""Latent consistency distillation (Luo et al., 2023, "Latent Consistency Models"): a student UNet that maps any
point of the teacher's guided probability-flow ODE straight to its end, so a few steps make an image.

One training step, as the paper's Algorithm 1 with the skipping-step DDIM solver:
- a training latent noised to a timestep t on the solver's grid (50 steps of the 1000), and a guidance scale w
  drawn from [w_min, w_max], given to the student as an embedding (`time_cond_proj_dim`), so sampling needs one
  UNet input per step instead of classifier-free guidance's batch of two;
- the teacher takes one guided DDIM step from t to the grid's previous point t' (20 timesteps earlier);
- the target network (an EMA of the student) maps the point at t' to the ODE's end; the student, from t, is
  trained to land on the same end (pseudo-Huber loss, c = 0.001).

The student starts as the teacher with a zero guidance projection, so at step 0 it is the teacher's conditional
branch exactly. The held-out loss is what the student is trained for, on held-out captions and images: the
distance of its one-call answer from a noisy latent to the end of the teacher's guided ODE from there (`HeldOut`).
A distance of few-step samples to the teacher's 20-step ones would not do: on the shapes model two ODE solvers
from the same noise (PNDM and DDIM, 20 steps) already end 0.67 apart in latent MSE, half the distance of two
seeds, so such a distance hardly moves while the student learns.
"""
import copy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

GUIDANCE_DIM = 256  # the guidance embedding's width (LCM-SD1.5's time_cond_proj_dim)
TEACHER_STEPS_ON_SOLVER_GRID = 50  # LCMScheduler's original_inference_steps


@dataclass(frozen=True)
class Distillation:
    steps: int = 1200  # 600 left the student 19 prompts lost / 6 gained on shapes (fails); 1200 holds
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup: int = 50
    w_min: float = 0.0  # guidance as the teacher's CFG scale minus one, which is what LCM's pipeline embeds
    w_max: float = 1.0
    target_decay: float = 0.95  # the target network's EMA (the paper's mu)
    huber_c: float = 0.001
    seed: int = 0
    validate_every: int = 100
    checkpoint_every: int = 200

    def as_dict(self) -> dict:
        return asdict(self)


def guidance_range(guidance: float) -> tuple[float, float]:
    """[w_min, w_max] around the model's own guidance scale g: w = g - 1 at the middle, so sampling at the
    model's default sits where training drew most evenly on both sides."""
    w = max(0.0, guidance - 1.0)
    return 0.0, 2 * w if w > 0 else 1.0


def student_from(teacher, dim: int = GUIDANCE_DIM):
    """A UNet with a guidance embedding, the teacher's weights, and the embedding's projection at zero: until
    trained it predicts exactly what the teacher's conditional branch does, at every w."""
    from diffusers import UNet2DConditionModel

    # diffusers resets to defaults the keys a saved config lists under _use_default_values, this one among them
    config = {k: v for k, v in teacher.config.items() if k != "_use_default_values"} | {"time_cond_proj_dim": dim}
    student = UNet2DConditionModel.from_config(config)
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    if unexpected or set(missing) != {"time_embedding.cond_proj.weight"}:
        raise RuntimeError(f"teacher and student differ beyond the guidance projection: missing {missing}, "
                           f"unexpected {unexpected}")
    torch.nn.init.zeros_(student.time_embedding.cond_proj.weight)
    return student


def guidance_embedding(w: torch.Tensor, dim: int) -> torch.Tensor:
    """The embedding LCM's pipeline gives the UNet for guidance w (the CFG scale minus one)."""
    from diffusers import LatentConsistencyModelPipeline

    return LatentConsistencyModelPipeline.get_guidance_scale_embedding(None, w, embedding_dim=dim)


class Solver:
    """The teacher's DDIM step on the 50-point grid, and the consistency function's boundary scalings."""

    def __init__(self, noise_schedule, lcm_scheduler):
        self.alphas = noise_schedule.alphas_cumprod
        ratio = noise_schedule.config.num_train_timesteps // TEACHER_STEPS_ON_SOLVER_GRID
        self.grid = (torch.arange(1, TEACHER_STEPS_ON_SOLVER_GRID + 1) * ratio).long() - 1
        self.skip = ratio
        self.lcm = lcm_scheduler

    def _scaled(self, values, t):
        return values[t].view(-1, 1, 1, 1)

    def x0_and_eps(self, prediction, t, x):
        """(the clean latent, the noise) an epsilon prediction at timestep t implies for x."""
        alpha = self._scaled(self.alphas, t)
        return (x - (1 - alpha).sqrt() * prediction) / alpha.sqrt(), prediction

    def ddim_step(self, x0, eps, t_prev):
        alpha = self._scaled(self.alphas, t_prev.clamp(min=0))
        return alpha.sqrt() * x0 + (1 - alpha).sqrt() * eps

    def consistency(self, x, x0, t):
        """The consistency function's output: c_skip(t) x + c_out(t) x0 (identity at t = 0)."""
        c_skip, c_out = self.lcm.get_scalings_for_boundary_condition_discrete(t)
        return c_skip.view(-1, 1, 1, 1) * x + c_out.view(-1, 1, 1, 1) * x0


def pseudo_huber(a, b, c: float) -> torch.Tensor:
    return (torch.sqrt(((a.float() - b.float()) ** 2) + c ** 2) - c).mean()


def distill(teacher, student, text, latents: Callable, noise_schedule, lcm_scheduler, settings: Distillation,
            held_out: "HeldOut", on_row: Callable[[dict], None] = lambda row: None,
            checkpoint: Path | None = None) -> list[dict]:
    """Trains `student` in place (resuming from `checkpoint`). `text(captions)` -> hidden states (frozen);
    `latents(count, generator)` -> (captions, training latents)."""
    from .shapes.stage import Stage, run_stage, step_seed, warmup_cosine

    solver = Solver(noise_schedule, lcm_scheduler)
    dim = student.config.time_cond_proj_dim
    target = copy.deepcopy(student).requires_grad_(False).eval()
    teacher.requires_grad_(False).eval()
    optimizer = torch.optim.AdamW(student.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(settings.warmup, settings.steps))
    empty = text([""])

    def step(number: int) -> float:
        generator = torch.Generator().manual_seed(step_seed(settings.seed, number))
        captions, clean = latents(settings.batch_size, generator)
        count = len(captions)
        index = torch.randint(0, len(solver.grid), (count,), generator=generator)
        t = solver.grid[index]
        t_prev = t - solver.skip
        noise = torch.randn(clean.shape, generator=generator)
        x = noise_schedule.add_noise(clean, noise, t)
        w = settings.w_min + (settings.w_max - settings.w_min) * torch.rand(count, generator=generator)
        w_embedding = guidance_embedding(w, dim)
        conditional = text(captions)
        x0_student, _ = solver.x0_and_eps(student(x, t, conditional, timestep_cond=w_embedding).sample, t, x)
        predicted = solver.consistency(x, x0_student, t)
        with torch.no_grad():
            both = teacher(torch.cat([x, x]), torch.cat([t, t]),
                           torch.cat([conditional, empty.expand(count, -1, -1)])).sample
            cond_x0, cond_eps = solver.x0_and_eps(both[:count], t, x)
            uncond_x0, uncond_eps = solver.x0_and_eps(both[count:], t, x)
            scale = w.view(-1, 1, 1, 1)
            x_prev = solver.ddim_step(cond_x0 + scale * (cond_x0 - uncond_x0),
                                      cond_eps + scale * (cond_eps - uncond_eps), t_prev)
            t_prev = t_prev.clamp(min=0)
            x0_target, _ = solver.x0_and_eps(target(x_prev, t_prev, conditional, timestep_cond=w_embedding).sample,
                                             t_prev, x_prev)
            wanted = solver.consistency(x_prev, x0_target, t_prev)
        loss = pseudo_huber(predicted, wanted, settings.huber_c)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            for kept, online in zip(target.parameters(), student.parameters()):
                kept.mul_(settings.target_decay).add_(online, alpha=1 - settings.target_decay)
        return loss.item()

    def validate() -> float:
        student.eval()
        loss = held_out.loss(student)
        student.train()
        return loss

    student.train()
    rows = run_stage(Stage("consistency-distillation", settings.steps, step, validate,
                           {"student": student, "target": target, "optimizer": optimizer, "schedule": schedule},
                           settings.validate_every, settings.checkpoint_every), checkpoint, on_row)
    student.eval()
    return rows


class HeldOut:
    """What the student is trained to do, on fixed held-out data: from a noisy latent at a timestep of the solver's
    grid, land where the teacher's guided ODE ends. Held-out captions and images (latents), one start per sample
    spread over the grid, fixed noise; the teacher's end point is solved once (guided DDIM down the grid), and the
    loss is the mean squared distance of the student's one-call answer to it."""

    def __init__(self, teacher, text, captions: list[str], latents: torch.Tensor, guidance: float, noise_schedule,
                 lcm_scheduler, seed: int):
        self.solver = Solver(noise_schedule, lcm_scheduler)
        self.w = guidance - 1.0  # the CFG scale as LCM's pipeline embeds it
        generator = torch.Generator().manual_seed(seed)
        grid = self.solver.grid
        self.index = torch.linspace(0, len(grid) - 1, len(captions)).round().long()
        self.t = grid[self.index]
        self.x = noise_schedule.add_noise(latents, torch.randn(latents.shape, generator=generator), self.t)
        self.conditional, self.empty = text(captions), text([""]).expand(len(captions), -1, -1)
        self.reference = self._ode_end(teacher)

    @torch.no_grad()
    def _ode_end(self, teacher) -> torch.Tensor:
        """Each sample's guided DDIM trajectory from its own start down the grid; the last clean estimate."""
        solver, count = self.solver, len(self.x)
        x, end = self.x.clone(), torch.zeros_like(self.x)
        for i in range(int(self.index.max()), -1, -1):
            t = solver.grid[i].repeat(count)
            both = teacher(torch.cat([x, x]), torch.cat([t, t]), torch.cat([self.conditional, self.empty])).sample
            cond_x0, cond_eps = solver.x0_and_eps(both[:count], t, x)
            uncond_x0, uncond_eps = solver.x0_and_eps(both[count:], t, x)
            x0 = cond_x0 + self.w * (cond_x0 - uncond_x0)
            moved = solver.ddim_step(x0, cond_eps + self.w * (cond_eps - uncond_eps), t - solver.skip)
            started = (self.index >= i).view(-1, 1, 1, 1)  # a sample joins at its own start
            x, end = torch.where(started, moved, x), torch.where(started, x0, end)
        return end

    @torch.no_grad()
    def loss(self, student) -> float:
        embedding = guidance_embedding(torch.full((len(self.x),), self.w), student.config.time_cond_proj_dim)
        x0, _ = self.solver.x0_and_eps(student(self.x, self.t, self.conditional, timestep_cond=embedding).sample,
                                       self.t, self.x)
        return float(torch.nn.functional.mse_loss(self.solver.consistency(self.x, x0, self.t), self.reference))
