"""Build a variant (and, first, whatever it is built from) into the cache.

`build(recipe, model)` returns the artifact folder. The cache key covers the source's fingerprint,
the resolved recipe, the base artifact, the resolution of static shapes and the library versions.
"""
import json
import os
import shutil
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import progress, recipes, sources
from .cache import MANIFEST, Cache, key_of, read_manifest
from .errors import BadArgument, ModelNotFound
from .pipeline import SD_VAE_SCALE, check_size
from .prompts import CALIBRATION_PROMPTS, TRAINING_PROMPTS
from .recipes import Recipe

# A build method's version: bump it when what the method writes changes, so that cached artifacts of the
# old code are not reused. Methods at version 1 leave it out of the key.
# ptq 2: no SmoothQuant on float MatMuls; 3: attention kept float. tome 2: one plan per block, from its input;
# 3: row gathers instead of element gathers and scatters (same values, another graph).
METHOD_VERSIONS = {("openvino", "ptq"): 3, ("openvino", "tome"): 3, ("torch", "tome"): 3}
LIBRARIES = ("torch", "diffusers", "transformers", "openvino", "nncf", "optimum-intel")


def library_versions() -> dict:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def parse_resolution(value, source: sources.Source | None = None) -> tuple[int, int]:
    """`512`, `512x768`, (h, w) or None (the source's native size) -> (height, width)."""
    if value in (None, "", "native"):
        if source is None:
            raise BadArgument("a resolution is needed")
        side = source.native_resolution
        return side, side
    if isinstance(value, str):
        try:
            parts = [int(p) for p in value.lower().split("x")]
        except ValueError:
            raise BadArgument(f"resolution {value!r} is not N or HxW (for example 512 or 512x768)") from None
        value = parts * 2 if len(parts) == 1 else parts
    height, width = (int(v) for v in value)
    check_size(height, width, source.vae_scale_factor if source is not None else SD_VAE_SCALE)
    return height, width


def materialize(source: sources.Source, cache: Cache) -> Path:
    """The source as a diffusers folder; built-ins are built once and cached."""
    if source.folder is not None:
        return source.folder
    material = {"source": source.fingerprint(), "versions": library_versions()}
    return cache.get_or_build("sources", source.slug, material, _builtin_builder(source.spec))


def _builtin_builder(name):
    def build(out: Path) -> None:
        with progress.stage(f"building the {name} source pipeline from code"):
            sources.write_builtin(name, out, progress.say)
    return build


def build(recipe: Recipe | str, model: str | sources.Source = "tiny", resolution=None, cache: Cache | None = None,
          rebuild: bool = False) -> Path:
    recipe = recipes.get(recipe) if isinstance(recipe, str) else recipe
    source = sources.resolve(model) if isinstance(model, str) else model
    cache = cache or Cache()
    size = parse_resolution(resolution, source)
    source_folder = materialize(source, cache)
    recipe = for_source(recipe, source)
    base = build(base_spec(recipe), source, size, cache) if recipe.base else None
    material = {"source": source.fingerprint(), "recipe": recipe.key_material(), "versions": library_versions(),
                "base": base.name if base else None}
    if recipe.training is not None and recipe.training.data:
        material["data_sha256"] = sources.hash_folder(Path(recipe.training.data))
    method_version = METHOD_VERSIONS.get((recipe.runtime, recipe.method), 1)
    if method_version > 1:
        material["method_version"] = method_version
    if recipe.runtime == "openvino":
        material["resolution"] = list(size)
    label = f"{recipe.name} of {source.spec}" + (f" at {size[0]}x{size[1]}" if recipe.runtime == "openvino" else "")

    def make(out: Path) -> None:
        with progress.stage(f"building {label}"):
            METHODS[(recipe.runtime, recipe.method)](recipe.resolved(), source_folder, base, out, size, cache)

    return cache.get_or_build("variants", f"{sources.safe_name(recipe.name)}-{source.slug}", material, make,
                              rebuild=rebuild)


def base_spec(recipe: Recipe) -> str:
    """The base's name, carrying this recipe's ToMe options when the base merges tokens too (so that
    `ov-tome-int8-ptq[tome_ratio=0.6]` starts from ov-tome-fp32 at 0.6, not at its default)."""
    base = recipes.get(recipe.base)
    if not base.tome_ratio:
        return recipe.base
    changed = {k: getattr(recipe, k) for k in recipes.TOME_OPTIONS if getattr(recipe, k) != getattr(base, k)}
    return recipe.base + ("[" + ",".join(f"{k}={v}" for k, v in changed.items()) + "]" if changed else "")


def ancestor(folder: Path, wanted) -> Path:
    """The nearest artifact in the chain of bases (this one included) whose recipe satisfies `wanted`."""
    manifest = read_manifest(folder)
    while not wanted(manifest["material"]["recipe"]):
        folder = folder.parent / manifest["material"]["base"]  # bases live side by side
        manifest = read_manifest(folder)
    return folder


def torch_artifact_of(folder: Path) -> Path:
    """The torch-fp32 artifact a chain of OpenVINO artifacts was built from."""
    return ancestor(folder, lambda recipe: recipe["runtime"] == "torch" and recipe["method"] == "none")


def tome_settings(recipe: Recipe) -> dict:
    """apply_tome's keyword arguments: the recipe's tome_* fields without the prefix."""
    return {name.removeprefix("tome_"): getattr(recipe, name) for name in recipes.TOME_OPTIONS}


def _tome_torch(recipe, source_folder, base, out, size, cache):
    """PyTorch ToMe is a patch applied when the pipeline is opened: the artifact is torch-fp32 plus tome.json."""
    link_copy(base, out)
    (out / "tome.json").write_text(json.dumps(tome_settings(recipe)))


def _tome_openvino(recipe, source_folder, base, out, size, cache):
    from diffusers import UNet2DConditionModel

    from .export import convert_unet
    from .quantize import IR
    from .tome import apply_tome
    unet = UNet2DConditionModel.from_pretrained(torch_artifact_of(base) / "unet").eval()
    apply_tome(unet, **tome_settings(recipe))
    link_copy(base, out)
    with progress.stage(f"converting the UNet with token merging (ratio {recipe.tome_ratio}) to OpenVINO IR"):
        convert_unet(unet, base / "unet" / IR, out / "unet" / IR)


def for_source(recipe: Recipe, source: sources.Source) -> Recipe:
    """Settings that depend on the model (QAT's schedule and loss weights) made explicit, so the key holds them."""
    if recipe.training is None:
        return recipe
    training = recipe.training.for_source(builtin=source.kind == "builtin")
    if training.data:
        from .training_data import read_imagefolder
        read_imagefolder(Path(training.data))  # bad data fails here, before anything is built
    return replace(recipe, training=training)


def _torch(recipe, source_folder, base, out, size, cache):
    try:
        from .export import save_torch_fp32
        with progress.stage("loading and saving the PyTorch FP32 pipeline"):
            save_torch_fp32(source_folder, out)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelNotFound(f"{source_folder} could not be loaded as a Stable Diffusion pipeline: {exc}") from exc


def _openvino_fp32(recipe, source_folder, base, out, size, cache):
    from .export import export_openvino
    with progress.stage(f"converting every component to OpenVINO IR (static {size[0]}x{size[1]})"):
        export_openvino(base, out, *size)


def _ptq(recipe, source_folder, base, out, size, cache):
    import openvino as ov
    from .quantize import IR, quantize_unet, replace_ir
    link_copy(base, out)
    samples = calibration_samples(base, recipe, size, cache)
    with progress.stage(f"NNCF int8 quantization of the UNet on {len(samples)} samples "
                        f"(overflow_fix={recipe.overflow_fix}, scope={recipe.int8_scope})"):
        quantized = quantize_unet(ov.Core().read_model(base / "unet" / IR), samples, recipe)
    replace_ir(quantized, out / "unet" / IR)


def without_token_merging(folder: Path) -> Path:
    """The artifact a token-merged one was made from. ToMe changes what happens inside the UNet, hardly its
    inputs (latents, timesteps, text embeddings), so int8 recipes at any ratio share its recorded inputs."""
    return ancestor(folder, lambda recipe: recipe["method"] != "tome")


def calibration_samples(base: Path, recipe: Recipe, size, cache: Cache) -> list:
    """UNet inputs recorded while the base pipeline (ToMe left out) generates; cached, since recording is slow
    at scale and every int8 recipe calibrated the same way shares them."""
    import numpy as np
    base = without_token_merging(base)
    prompts = CALIBRATION_PROMPTS[:recipe.calibration_prompts]
    material = {"base": base.name, "prompts": prompts, "steps": recipe.calibration_steps, "resolution": list(size)}

    def record(out: Path) -> None:
        from .pipeline import open_variant
        from .quantize import record_unet_inputs
        with progress.stage(f"recording UNet inputs from {len(prompts)} calibration prompts x "
                            f"{recipe.calibration_steps} steps"):
            samples = record_unet_inputs(open_variant(base), prompts, recipe.calibration_steps, *size)
        np.savez(out / "samples.npz", **{f"{i}/{k}": v for i, s in enumerate(samples) for k, v in s.items()})

    folder = cache.get_or_build("calibration", f"unet-{base.name}", material, record)
    with np.load(folder / "samples.npz") as stored:
        samples = {}
        for name in stored.files:
            index, key = name.split("/")
            samples.setdefault(int(index), {})[key] = stored[name]
    return [samples[i] for i in sorted(samples)]


def _qat(recipe, source_folder, base, out, size, cache):
    from diffusers import DDPMScheduler, UNet2DConditionModel

    from .qat import LOG, Trainer, export_student, quantize_for_training
    from .quantize import IR
    training = recipe.training
    torch_folder = torch_artifact_of(base)
    calibration = calibration_samples(base, recipe, size, cache)
    examples = training_examples(torch_folder, training, size, cache)
    teacher = UNet2DConditionModel.from_pretrained(torch_folder / "unet")  # FP32, never token-merged
    student_unet = UNet2DConditionModel.from_pretrained(torch_folder / "unet")
    if recipe.tome_ratio:  # merged before quantization, so training adapts to it
        from .tome import apply_tome
        apply_tome(student_unet, **tome_settings(recipe))
    with progress.stage(f"NNCF fake quantization of the torch UNet on {len(calibration)} calibration samples "
                        f"(overflow_fix={recipe.overflow_fix}, scope={recipe.int8_scope})"):
        student = quantize_for_training(student_unet, calibration, recipe)
    noise_scheduler = DDPMScheduler.from_config(json.loads((torch_folder / "scheduler" /
                                                            "scheduler_config.json").read_text()))
    workdir = cache.path("training", "qat", key_of({"recipe": recipe.key_material(), "base": base.name,
                                                    "size": list(size), "data": training.data}))
    trainer = Trainer(student, teacher, examples, noise_scheduler, training, workdir)
    with progress.stage(f"QAT: {training.steps} steps x {training.accumulation} accumulation x batch "
                        f"{training.batch_size} on {len(examples)} examples (lr {training.learning_rate}, "
                        f"task {training.task_weight}, distillation {training.distillation_weight}, "
                        f"EMA {training.ema_decay if training.ema else 'off'}; checkpoints in {workdir})"):
        trainer.run()
    link_copy(base, out)
    with progress.stage("exporting the trained UNet (EMA weights) to OpenVINO IR with int8 weights"):
        export_student(trainer.final_module(), base / "unet" / IR, out / "unet" / IR)
    shutil.copy2(workdir / LOG, out / LOG)
    (out / "training.json").write_text(json.dumps({"settings": recipe.key_material()["training"],
                                                   "examples": len(examples), "float_weights": len(trainer.weights),
                                                   "quantizer_parameters": len(trainer.quantizers)}, indent=1))
    shutil.rmtree(workdir, ignore_errors=True)  # checkpoints are GBs at full scale; the artifact keeps the log


def training_examples(torch_folder: Path, training, size, cache: Cache):
    """Latents and caption embeddings of the training images: a user folder, or (data-free) teacher images."""
    from diffusers import StableDiffusionPipeline

    from .training_data import encode, read_imagefolder, write_teacher_images
    folder = Path(training.data) if training.data else None
    if folder is None:
        count = training.data_free_images
        prompts = [TRAINING_PROMPTS[i % len(TRAINING_PROMPTS)] for i in range(count)]
        material = {"teacher": torch_folder.name, "prompts": prompts, "steps": training.data_free_steps,
                    "resolution": list(size), "seed": training.seed}

        def draw(out: Path) -> None:
            from .pipeline import open_variant
            with progress.stage(f"data-free mode: the FP32 teacher draws {count} training images "
                                f"({training.data_free_steps} steps each)"):
                write_teacher_images(open_variant(torch_folder), prompts, training.data_free_steps, size, out,
                                     seed=training.seed)

        folder = cache.get_or_build("training-data", f"teacher-{torch_folder.name}", material, draw)
    pipe = StableDiffusionPipeline.from_pretrained(torch_folder)
    with progress.stage(f"encoding training images from {folder} (VAE latents, caption embeddings)"):
        return encode(pipe, read_imagefolder(folder), size)


def _weights_only(recipe, source_folder, base, out, size, cache):
    from .quantize import compress_weights_int8
    link_copy(base, out)
    compress_weights_int8(out)


def _perturb(recipe, source_folder, base, out, size, cache):
    import openvino as ov
    from .quantize import IR, perturb_weights, replace_ir
    link_copy(base, out)
    with progress.stage(f"adding {recipe.noise:.0%} noise to the UNet weights (a control variant)"):
        replace_ir(perturb_weights(ov.Core().read_model(base / "unet" / IR), recipe.noise), out / "unet" / IR)


def link_copy(src: Path, dst: Path) -> None:
    """Copy a finished artifact as hard links (cheap for GBs); writers must unlink before replacing."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.name != MANIFEST:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)


METHODS = {
    ("torch", "none"): _torch,
    ("openvino", "none"): _openvino_fp32,
    ("openvino", "ptq"): _ptq,
    ("openvino", "qat"): _qat,
    ("torch", "tome"): _tome_torch,
    ("openvino", "tome"): _tome_openvino,
    ("openvino", "weights-only"): _weights_only,
    ("openvino", "perturb"): _perturb,
}
