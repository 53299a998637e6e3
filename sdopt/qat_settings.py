"""QAT's settings (the recipe's `training`): the reference workflow's defaults, and what depends on the model."""
from dataclasses import dataclass, replace

from .errors import BadArgument


@dataclass(frozen=True)
class Training:
    """Quantization-aware training settings. Defaults are the reference workflow's (AdamW, lr 1e-5, batch 1 x 4
    accumulation steps, 4096 steps); None means "resolved from the source" (see `for_source`)."""
    steps: int | None = None  # None: 4096 for real models, BUILTIN_STEPS for the random-weight built-ins
    learning_rate: float = 1e-5
    # Quantizer scales (None: 10x the weights' rate): on tiny, 60 steps took the UNet's error to its teacher
    # from 9.9% to 9.5% with 10x, 9.7% with 1x; weights at 1e-4 and above made it worse.
    quantizer_learning_rate: float | None = None
    batch_size: int = 1
    accumulation: int = 4
    max_grad_norm: float = 1.0
    # loss = task_weight * MSE(prediction, noise) + distillation_weight * MSE(prediction, teacher's prediction).
    # None: 1 for real models, 0 for random-weight built-ins, which are no denoisers: the noise target would
    # only pull the student away from its teacher.
    task_weight: float | None = None
    distillation_weight: float = 1.0
    ema: bool = True
    ema_decay: float = 0.9999  # the ceiling; diffusers' EMAModel warms up as (1 + n) / (10 + n)
    ema_device: str = "cpu"  # where the EMA copy lives: RAM, not the accelerator, when there is one
    device: str = "cpu"
    uncond_probability: float = 0.1  # empty captions, so the student also learns guidance's unconditional half
    seed: int = 0
    # an imagefolder; "world": the shapes world's own images and captions (the default on a shapes model);
    # None: data-free (the FP32 teacher draws the training images)
    data: str | None = None
    data_free_images: int = 16
    data_free_steps: int = 20
    # How many micro-batches (of accumulation, and of the held-out loss) share one forward pass: the same inputs
    # and the same gradient up to float summation order, so not in the cache key. A small UNet's pass costs
    # NNCF's per-op hooks more than arithmetic (tiny: 0.3 s for batch 1, 0.5 s for batch 4), a large one's
    # costs memory. None: 8 for the built-ins and the shapes model, 1 for other models.
    micro_batches_per_pass: int | None = None
    checkpoint_every: int = 50  # does not change the result, so not in the cache key
    validate_every: int = 10  # steps between held-out losses in the log; not in the key either

    def for_source(self, builtin: bool, small: bool | None = None, steps: int | None = None) -> "Training":
        """builtin: random weights (a short run, distillation only); small: a UNet small enough that grouping
        micro-batches into one pass pays (the built-ins and the shapes model); steps: the model's default."""
        small = builtin if small is None else small
        return replace(self, steps=self.steps or steps or (BUILTIN_STEPS if builtin else 4096),
                       quantizer_learning_rate=self.quantizer_learning_rate or 10 * self.learning_rate,
                       task_weight=(0.0 if builtin else 1.0) if self.task_weight is None else self.task_weight,
                       micro_batches_per_pass=self.micro_batches_per_pass or (8 if small else 1))

    def check(self) -> None:
        problems = [f"{name} must be at least 1" for name in ("steps", "batch_size", "accumulation",
                                                              "data_free_images", "data_free_steps",
                                                              "checkpoint_every", "validate_every",
                                                              "micro_batches_per_pass")
                    if getattr(self, name) is not None and getattr(self, name) < 1]
        if not 0 <= self.ema_decay < 1:
            problems.append("ema_decay must be in [0, 1)")
        if self.learning_rate <= 0 or (self.quantizer_learning_rate or 1) <= 0:
            problems.append("learning rates must be positive")
        if problems:
            raise BadArgument("QAT settings: " + "; ".join(problems))


# Built-in models have random weights: a short run shows that training works and what it costs.
# 20: two held-out validations in the log, and on tiny the QAT UNet already ends closer to its teacher than PTQ's
# (UNet error 8.02% against 8.23%; 60 steps reach 7.99%), at a third of the build time.
BUILTIN_STEPS = 20
# The shapes model's UNet (2.5M parameters, 16x16 latents) on its world's images: see docs/shapes.md for the
# held-out loss over these steps.
SHAPES_STEPS = 400
