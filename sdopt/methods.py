"""The build methods, one per (runtime, method) of a recipe, in one table with each method's version and the
recipe options it reads.

Every method gets one `BuildContext` and writes a finished artifact into `ctx.out`; most start from a hard-link
copy of their base artifact and replace one IR.
"""
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import progress
from .artifacts import link_copy, stages_of, torch_artifact_of
from .cache import Cache, key_of
from .deepcache import SHALLOW_UNET
from .errors import BadArgument, ModelNotFound
from .inputs import calibration_samples, training_examples
from .ir import IR, replace_ir


@dataclass(frozen=True)
class BuildContext:
    recipe: object  # the resolved Recipe
    key_material: dict  # the recipe as it enters the cache key
    source_folder: Path  # the model as a diffusers folder
    base: Path | None  # the base artifact, finished
    out: Path  # where to write
    size: tuple[int, int]  # height, width of static shapes
    cache: Cache
    world: bool = False  # the model has a world (shapes): calibration draws on its training captions
    guidance: float | None = None  # the model's sampling guidance scale, which calibration records at


@dataclass(frozen=True)
class Method:
    run: Callable[[BuildContext], None]
    # Bump when what the method writes changes, so that cached artifacts of the old code are not reused; at 1
    # it stays out of the key.
    version: int = 1
    # Recipe options only some methods read; a method's key leaves out the ones it does not (so a knob it
    # ignores does not split the cache).
    reads: tuple = ()
    # Refuses a recipe it cannot build for this model and size, before any base is built: (recipe, latent size).
    check: Callable | None = None
    # The stage it adds to the artifact's manifest: its name, the options it was built with (recipe -> dict),
    # and whether a backend applies it on opening (a patch or a loop) rather than finding it in the files.
    stage: str = ""
    options: Callable = lambda recipe: {}
    on_open: bool = False

    def stage_entry(self, recipe, key_material: dict) -> dict:
        options = self.options(recipe) or {name: key_material[name] for name in self.reads if name in key_material}
        return {"stage": self.stage, "options": options, "on_open": self.on_open}


VAE_LAYER = "vae-decoder-int8"
GENAI_LAYER = "genai-files"
CALIBRATION = ("calibration_prompts", "calibration_steps", "overflow_fix", "int8_scope")


def torch_fp32(ctx: BuildContext) -> None:
    from .export import save_torch_fp32
    try:
        with progress.stage("loading and saving the PyTorch FP32 pipeline"):
            save_torch_fp32(ctx.source_folder, ctx.out)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelNotFound(f"{ctx.source_folder} could not be loaded as a Stable Diffusion pipeline: {exc}") from exc


def openvino_fp32(ctx: BuildContext) -> None:
    from .export import export_openvino
    with progress.stage(f"converting every component to OpenVINO IR (static {ctx.size[0]}x{ctx.size[1]})"):
        export_openvino(ctx.base, ctx.out, *ctx.size)


def ptq(ctx: BuildContext) -> None:
    import openvino as ov

    from .quantize import quantize_unet
    link_copy(ctx.base, ctx.out)
    # A step-caching base has two UNet graphs: each is calibrated on the inputs it sees itself.
    graphs = ["unet"] + ([SHALLOW_UNET] if any(s["stage"] == "deepcache" for s in stages_of(ctx.base)) else [])
    for graph in graphs:
        samples = calibration_samples(ctx.base, ctx.recipe, ctx.size, ctx.cache, ctx.world, ctx.guidance, graph)
        with progress.stage(f"NNCF int8 quantization of {graph} on {len(samples)} samples "
                            f"(overflow_fix={ctx.recipe.overflow_fix}, scope={ctx.recipe.int8_scope})"):
            quantized = quantize_unet(ov.Core().read_model(ctx.base / graph / IR), samples, ctx.recipe)
        replace_ir(quantized, ctx.out / graph / IR)


def qat(ctx: BuildContext) -> None:
    from diffusers import DDPMScheduler, UNet2DConditionModel

    from .qat import LOG, Trainer, export_student, quantize_for_training
    recipe, training = ctx.recipe, ctx.recipe.training
    torch_folder = torch_artifact_of(ctx.base)
    calibration = calibration_samples(ctx.base, recipe, ctx.size, ctx.cache, ctx.world, ctx.guidance)
    examples = training_examples(torch_folder, training, ctx.size, ctx.cache)
    teacher = UNet2DConditionModel.from_pretrained(torch_folder / "unet")  # FP32, never token-merged
    student_unet = token_patched_unet(ctx)  # merged before quantization, so training adapts to it
    with progress.stage(f"NNCF fake quantization of the torch UNet on {len(calibration)} calibration samples "
                        f"(overflow_fix={recipe.overflow_fix}, scope={recipe.int8_scope})"):
        student = quantize_for_training(student_unet, calibration, recipe)
    noise_scheduler = DDPMScheduler.from_config(json.loads((torch_folder / "scheduler" /
                                                            "scheduler_config.json").read_text()))
    workdir = ctx.cache.path("training", "qat", key_of({"recipe": ctx.key_material, "base": ctx.base.name,
                                                        "size": list(ctx.size), "data": training.data}))
    trainer = Trainer(student, teacher, examples, noise_scheduler, training, workdir)
    with progress.stage(f"QAT: {training.steps} steps x {training.accumulation} accumulation x batch "
                        f"{training.batch_size} on {len(examples)} examples (lr {training.learning_rate}, "
                        f"task {training.task_weight}, distillation {training.distillation_weight}, "
                        f"EMA {training.ema_decay if training.ema else 'off'}; checkpoints in {workdir})"):
        trainer.run()
    link_copy(ctx.base, ctx.out)
    with progress.stage("exporting the trained UNet (EMA weights) to OpenVINO IR with int8 weights"):
        export_student(trainer.final_module(), ctx.base / "unet" / IR, ctx.out / "unet" / IR)
    shutil.copy2(workdir / LOG, ctx.out / LOG)
    (ctx.out / "training.json").write_text(json.dumps({"settings": ctx.key_material["training"],
                                                       "examples": len(examples),
                                                       "float_weights": len(trainer.weights),
                                                       "quantizer_parameters": len(trainer.quantizers)}, indent=1))
    shutil.rmtree(workdir, ignore_errors=True)  # checkpoints are GBs at full scale; the artifact keeps the log


def tome_torch(ctx: BuildContext) -> None:
    """PyTorch ToMe is a patch applied when the pipeline is opened: the artifact is torch-fp32 whose manifest lists
    the tome stage."""
    link_copy(ctx.base, ctx.out)


def token_patched_unet(ctx: BuildContext):
    """The base's torch UNet with the recipe's token merging or token downsampling applied."""
    from diffusers import UNet2DConditionModel
    unet = UNet2DConditionModel.from_pretrained(torch_artifact_of(ctx.base) / "unet").eval()
    if ctx.recipe.tome_ratio:
        from .tome import apply_tome
        apply_tome(unet, **ctx.recipe.tome_settings())
    if ctx.recipe.todo_factor:
        from .todo import apply_todo
        apply_todo(unet, **ctx.recipe.todo_settings())
    return unet


def check_todo_grid(recipe, latent: tuple[int, int]) -> None:
    if recipe.todo_factor:
        from .todo import check_grid
        check_grid(recipe.todo_factor, recipe.todo_max_downsample, *latent)


def tome_openvino(ctx: BuildContext) -> None:
    from .export import convert_unet
    unet = token_patched_unet(ctx)
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"converting the UNet with token merging (ratio {ctx.recipe.tome_ratio}) to OpenVINO IR"):
        convert_unet(unet, ctx.base / "unet" / IR, ctx.out / "unet" / IR)


def deepcache_torch(ctx: BuildContext) -> None:
    """PyTorch step caching is a loop chosen when the pipeline is opened: torch-fp32 with the stage listed."""
    from .deepcache import branches_of_config, check_deepcache
    config = json.loads((torch_artifact_of(ctx.base) / "unet" / "config.json").read_text())
    check_deepcache(ctx.recipe.cache_interval, ctx.recipe.cache_branch, branches_of_config(config))
    link_copy(ctx.base, ctx.out)


def deepcache_openvino(ctx: BuildContext) -> None:
    """Two IRs from the base's torch UNet (token-merged as the recipe says): the full UNet, which also returns the
    cached feature, in place of the pipeline's UNet, and the shallow branch under unet_shallow/."""
    from .deepcache import branches, check_deepcache
    from .export import convert_step_graphs
    recipe = ctx.recipe
    unet = token_patched_unet(ctx)
    check_deepcache(recipe.cache_interval, recipe.cache_branch, branches(unet))
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"converting the UNet's full and shallow (branch {recipe.cache_branch}) graphs to "
                        f"OpenVINO IR"):
        convert_step_graphs(unet, recipe.cache_branch, ctx.base / "unet" / IR, ctx.out / "unet" / IR,
                            ctx.out / SHALLOW_UNET / IR)


def todo_torch(ctx: BuildContext) -> None:
    """PyTorch ToDo is a patch applied when the pipeline is opened: torch-fp32 with the stage listed."""
    link_copy(ctx.base, ctx.out)


def todo_openvino(ctx: BuildContext) -> None:
    from .export import convert_unet
    unet = token_patched_unet(ctx)
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"converting the UNet with token downsampling (factor {ctx.recipe.todo_factor}) to "
                        f"OpenVINO IR"):
        convert_unet(unet, ctx.base / "unet" / IR, ctx.out / "unet" / IR)


def vae_decoder_int8(ctx: BuildContext) -> None:
    """The base variant with its VAE decoder int8 (weights and activations), calibrated on the final latents the
    base itself draws: the decoder's real inputs, whatever UNet made them."""
    import openvino as ov

    from .inputs import VAE_CALIBRATION, vae_calibration_samples
    from .quantize import quantize_vae_decoder
    samples = vae_calibration_samples(ctx.base, ctx.size, ctx.world, ctx.guidance)
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"NNCF int8 quantization of the VAE decoder on {len(samples)} final latents "
                        f"({VAE_CALIBRATION['steps']} steps each; overflow_fix={ctx.recipe.overflow_fix}, "
                        f"scope={ctx.recipe.int8_scope})"):
        quantized = quantize_vae_decoder(ov.Core().read_model(ctx.base / "vae_decoder" / IR), samples, ctx.recipe)
    replace_ir(quantized, ctx.out / "vae_decoder" / IR)


def genai_files(ctx: BuildContext) -> None:
    """The base OpenVINO variant with what OpenVINO GenAI's Text2ImagePipeline needs beside the IRs: the tokenizer
    as an OpenVINO model. A variant GenAI cannot drive is refused before anything is written."""
    from .backends.genai_backend import TOKENIZER_IR, layout_problems, standard_unet_problem
    from .export import export_tokenizer
    problems = layout_problems(ctx.base)
    if not problems:
        problems = list(filter(None, [standard_unet_problem(ctx.base / "unet" / IR)]))
    if problems:
        raise BadArgument(f"{ctx.recipe.name} cannot run on OpenVINO GenAI: " + "; ".join(problems))
    link_copy(ctx.base, ctx.out)
    with progress.stage("converting the tokenizer to an OpenVINO model (openvino-tokenizers) for GenAI"):
        export_tokenizer(ctx.base / "tokenizer", ctx.out / TOKENIZER_IR)


def weights_only(ctx: BuildContext) -> None:
    from .quantize import compress_weights_int8
    link_copy(ctx.base, ctx.out)
    compress_weights_int8(ctx.out)


def perturb(ctx: BuildContext) -> None:
    import openvino as ov

    from .perturb import perturb_weights
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"adding {ctx.recipe.noise:.0%} noise to the UNet weights (a control variant)"):
        model = perturb_weights(ov.Core().read_model(ctx.base / "unet" / IR), ctx.recipe.noise)
        replace_ir(model, ctx.out / "unet" / IR)


# ptq 2: no SmoothQuant on float MatMuls; 3: attention kept float. tome 2: one plan per block, from its input;
# 3: row gathers instead of element gathers and scatters (same values, another graph).
TOME_OPTIONS = (lambda recipe: recipe.tome_settings())
TODO_OPTIONS = (lambda recipe: recipe.todo_settings())
STEP_CACHE = (lambda recipe: recipe.step_cache_settings())
METHODS = {
    ("torch", "none"): Method(torch_fp32, stage="save"),
    ("openvino", "none"): Method(openvino_fp32, stage="export"),
    ("openvino", "ptq"): Method(ptq, version=3, reads=CALIBRATION, stage="ptq"),
    ("openvino", "qat"): Method(qat, reads=CALIBRATION, stage="qat"),
    ("torch", "tome"): Method(tome_torch, version=3, stage="tome", options=TOME_OPTIONS, on_open=True),
    ("openvino", "tome"): Method(tome_openvino, version=3, stage="tome", options=TOME_OPTIONS),
    ("torch", "deepcache"): Method(deepcache_torch, stage="deepcache", options=STEP_CACHE, on_open=True),
    ("openvino", "deepcache"): Method(deepcache_openvino, check=check_todo_grid, stage="deepcache",
                                      options=STEP_CACHE, on_open=True),
    # torch has no fixed size: its patch refuses a grid when it meets one
    ("torch", "todo"): Method(todo_torch, stage="todo", options=TODO_OPTIONS, on_open=True),
    ("openvino", "todo"): Method(todo_openvino, check=check_todo_grid, stage="todo", options=TODO_OPTIONS),
    ("openvino", "weights-only"): Method(weights_only, stage="weights-int8"),
    ("openvino", "perturb"): Method(perturb, reads=("noise",), stage="perturb"),
    # Not a recipe's method: the layer build() puts over any OpenVINO variant asked for with vae_decoder=int8.
    ("openvino", VAE_LAYER): Method(vae_decoder_int8, reads=("overflow_fix", "int8_scope"), stage="vae-int8"),
    # Nor this: the layer build() puts over any OpenVINO variant asked for with runtime=genai.
    ("genai", GENAI_LAYER): Method(genai_files, stage="genai-files"),
}
# Options some method reads: every other method's key leaves them out.
METHOD_OPTIONS = frozenset(name for method in METHODS.values() for name in method.reads)
