"""Step distillation as a stage: the model's UNet distilled into a latent consistency student
(sdopt/consistency_distillation.py) that samples in `lcm_steps` LCM steps with guidance embedded, one UNet input a
step instead of classifier-free guidance's two. The artifact is the base pipeline with the student's UNet, LCM's
scheduler and LCM's pipeline class, so every runtime opens it as the LCM family and every stage after it (export,
PTQ calibrated on the student's own inputs, bf16, GenAI) takes it as it takes any model.

The student answers whatever step count and scheduler it is asked for in its own (`Variant.sampled_as`): the
suites ask every variant for the same images, and this one makes them in fewer steps.

Training draws on the shapes world's captions and images; other models have no training data here, so for them
`lcm_train_steps=0` builds the student's structure from the teacher's weights untrained: right for timing it,
wrong for its images, and named so in the variant's name and manifest.
"""
import inspect
import json
import shutil
from dataclasses import dataclass, replace

from .. import progress
from ..artifacts import link_copy
from ..cache import key_of
from ..consistency_distillation import Distillation, HeldOut, distill, guidance_range, student_from
from ..errors import BadArgument
from ..shapes import world
from ..shapes.stage import write_rows
from ..shapes.train_unet import Conditioning, LatentPool, UnetTraining
from .base import BuildContext, Method, StageOptions

LOG = "distillation_log.jsonl"
AUTO = "auto"
MAX_STEPS = 8  # LCM's working range; more steps would spend what distillation saves


@dataclass(frozen=True)
class Options(StageOptions):
    """Steps the student samples in (0: the stage is off) and the distillation's training steps (0: the student's
    structure only, untrained; `auto`: the default run where the model has training data, the structure only on
    a random-weight built-in, which has nothing to learn from)."""
    PREFIX = "lcm"
    lcm_steps: int = 0
    lcm_train_steps: int | str = AUTO

    def active(self) -> bool:
        return bool(self.lcm_steps)

    def check(self, name, recipe, given, built_on) -> None:
        from ..recipes import REGISTRY

        if given & set(self.names()) and not (name in REGISTRY and REGISTRY[name].lcm_steps):
            students = ", ".join(n for n, r in REGISTRY.items() if r.lcm_steps)
            raise BadArgument(f"{name}: {', '.join(sorted(given & set(self.names())))} apply to the step-distilled "
                              f"variants only ({students})")
        if self.active() and not 1 <= self.lcm_steps <= MAX_STEPS:
            raise BadArgument(f"{name}: lcm_steps must be from 1 to {MAX_STEPS} (a consistency model's few-step "
                              f"range), got {self.lcm_steps}")
        if self.lcm_train_steps not in (AUTO, None) and not (isinstance(self.lcm_train_steps, int)
                                                            and self.lcm_train_steps >= 0):
            raise BadArgument(f"{name}: lcm_train_steps must be auto, 0 (structure only) or a positive number of "
                              f"steps, got {self.lcm_train_steps!r}")

    @staticmethod
    def carried(base) -> bool:
        return bool(base.lcm_steps)


def distillation_settings(ctx: BuildContext) -> Distillation:
    """`auto` made concrete here, not in the recipe: a number there would name the base of every variant built
    on the student differently from the student asked for by name (`torch-lcm[lcm_train_steps=1200]` beside
    `torch-lcm`), and the same student would be trained twice. The method's version stands for the default."""
    w_min, w_max = guidance_range(ctx.guidance)
    steps = ctx.recipe.lcm_train_steps
    if steps in (AUTO, None):
        steps = Distillation.steps if ctx.world else 0
    return replace(Distillation(), steps=steps, w_min=w_min, w_max=w_max)


def lcm_torch(ctx: BuildContext) -> None:
    from diffusers import UNet2DConditionModel

    teacher = UNet2DConditionModel.from_pretrained(ctx.base / "unet").eval()
    student = student_from(teacher)
    settings = distillation_settings(ctx)
    workdir = ctx.cache.path("training", "lcm", key_of({"base": ctx.base.name, "settings": settings.as_dict()}))
    rows = _train(ctx, teacher, student, settings, workdir) if settings.steps else []
    link_copy(ctx.base, ctx.out)
    shutil.rmtree(ctx.out / "unet")  # hard links of the teacher's files: unlinked, never written through
    student.save_pretrained(ctx.out / "unet", safe_serialization=True)
    _as_lcm_pipeline(ctx.out)
    if rows:
        write_rows(ctx.out / LOG, "consistency-distillation", rows)
        shutil.rmtree(workdir, ignore_errors=True)  # the checkpoints; the artifact keeps the log
    (ctx.out / "distillation.json").write_text(json.dumps(
        {"trained": bool(settings.steps), "settings": settings.as_dict(),
         "held_out_first": rows[0]["validation_loss"] if rows else None,
         "held_out_final": rows[-1]["validation_loss"] if rows else None}, indent=1))


def _train(ctx: BuildContext, teacher, student, settings: Distillation, workdir) -> list[dict]:
    """Distils on the shapes world's training pairs, as its UNet was trained; resumes from the checkpoint a
    stopped build left in `workdir`."""
    from diffusers import AutoencoderKL, DDPMScheduler
    from transformers import CLIPTextModel, CLIPTokenizer

    vae = AutoencoderKL.from_pretrained(ctx.base / "vae")
    conditioning = Conditioning(vae, CLIPTextModel.from_pretrained(ctx.base / "text_encoder"),
                                CLIPTokenizer.from_pretrained(ctx.base / "tokenizer"))
    pool = LatentPool(conditioning, UnetTraining.pool, settings.seed + 50_000)  # the pairs the UNet trained on
    config = json.loads((ctx.base / "scheduler" / "scheduler_config.json").read_text())
    schedule = DDPMScheduler.from_config(config)  # the noise schedule the teacher was trained with
    held_prompts = [p for kind in ("single", "pair") for p in world.evaluation_prompts(kind)]
    captions, images = world.sample(held_prompts, 32, seed=settings.seed + 40_000, distinct=True)
    held_out = HeldOut(teacher, conditioning.text, list(captions), conditioning.latents(images, None), ctx.guidance,
                       schedule, lcm_scheduler(config), settings.seed + 40_001)
    workdir.mkdir(parents=True, exist_ok=True)
    with progress.stage(f"latent consistency distillation: {settings.steps} steps x batch {settings.batch_size}, "
                        f"w in [{settings.w_min}, {settings.w_max}]; held-out: one call against the teacher's guided "
                        f"ODE end (checkpoints in {workdir})"):
        rows = distill(teacher, student, conditioning.text, pool.batch, schedule, lcm_scheduler(config), settings,
                       held_out, checkpoint=workdir / "distill.ckpt")
    return rows


def lcm_scheduler(base_config: dict):
    """LCM's scheduler on the base model's noise schedule."""
    from diffusers import LCMScheduler

    takes = inspect.signature(LCMScheduler.__init__).parameters  # PNDM's skip_prk_steps would be saved and warned of
    config = {k: v for k, v in base_config.items() if k in takes}
    return LCMScheduler.from_config(config, original_inference_steps=50, timestep_scaling=10.0)


def _as_lcm_pipeline(folder) -> None:
    """The folder opened as LCM's pipeline: its class and scheduler named in model_index.json, LCM's scheduler
    config written over the base's (hard-linked files are replaced, never written through)."""
    scheduler_file = folder / "scheduler" / "scheduler_config.json"
    config = json.loads(scheduler_file.read_text())
    scheduler_file.unlink()
    lcm_scheduler(config).save_config(folder / "scheduler")
    index_file = folder / "model_index.json"
    index = json.loads(index_file.read_text())
    index_file.unlink()
    index |= {"_class_name": "LatentConsistencyModelPipeline", "scheduler": ["diffusers", "LCMScheduler"]}
    index_file.write_text(json.dumps(index, indent=2))


def refuses_model(recipe, source) -> str | None:
    """Distillation needs training data, which only the shapes world gives here; a user's model trained on nothing
    would look distilled and draw noise, so it is refused unless its structure alone is asked for."""
    steps = recipe.lcm_train_steps
    if source.kind == "shapes" or steps == 0 or (steps in (AUTO, None) and source.kind == "builtin"):
        return None
    return ("distillation trains on the shapes world's images and captions, and there is no training data for this "
            "model here; lcm_train_steps=0 builds the student's structure untrained (for timing only)")


# Bump the version when Distillation's defaults change: `auto` enters the key as the word.
METHODS = {("torch", "lcm"): Method(lcm_torch, version=2, stage="lcm", owns=Options, refuses_model=refuses_model)}
