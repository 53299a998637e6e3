"""sdopt list | build | generate: the command-line face of the Python API."""
import argparse
import logging
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

from . import recipes, schedulers, sources
from .artifacts import library_versions, link_copy
from .backends import check_steps, open_variant
from .build import build, stages as build_stages
from .cache import HELP as CACHE_HELP
from .cache import Cache
from .cache_prune import prunable
from .errors import SdoptError
from .heap import freeze_what_is_loaded
from .shapes.train import ShapesTraining, train_shapes, with_seed
from .shapes.world import write_imagefolder
from .sources import parse_resolution, resolve
from .spec import VariantSpec


def _common(parser):
    parser.add_argument("variant", help="a registered variant (see `sdopt list`)")
    parser.add_argument("--model", default="tiny", help=sources.MODEL_HELP)
    parser.add_argument("--resolution", default=None, help="N or HxW; default: the model's native size")
    parser.add_argument("--cache", default=None, help=CACHE_HELP)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the variant even if it is cached")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="sdopt", description="make optimized Stable Diffusion variants")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the registered variants, one line each")
    _common(commands.add_parser("build", help="build a variant (or reuse it) and print its folder"))
    generate = commands.add_parser("generate", help="build or reuse a variant and write one image")
    _common(generate)
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--steps", type=int, default=None, help="default: what the model is made for (20; 4 on "
                                                                 "SDXL-Turbo and LCM)")
    generate.add_argument("--scheduler", default=None, help=", ".join(schedulers.SCHEDULERS) + " (default: the kind "
                                                            "the model is made for)")
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--guidance", type=float, default=None,
                          help="classifier-free guidance scale, above 1 (default: the model's own, 2.0 on shapes, "
                               "7.5 on SD-1.x, 5 on SDXL; 0 to 1 on guidance-distilled models such as SDXL-Turbo)")
    generate.add_argument("--height", type=int, default=None)
    generate.add_argument("--width", type=int, default=None)
    generate.add_argument("--out", type=Path, required=True, help="the PNG to write")
    cache = commands.add_parser("cache", help="what the cache holds, and pruning it")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True)
    listing = cache_commands.add_parser("list", help="entries with size and last use, oldest first")
    prune = cache_commands.add_parser("prune", help="delete entries unused for N days and/or made by other "
                                      "library versions (--stale); keeps what kept entries were made from")
    prune.add_argument("--unused-days", type=float, default=None, help="not used (built or reused) for this long")
    prune.add_argument("--stale", action="store_true", help="built with library versions other than the installed")
    prune.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")
    for sub in (listing, prune):
        sub.add_argument("--cache", default=None, help=CACHE_HELP)
    qat = commands.add_parser("qat", help="quantization-aware training of the UNet (NNCF + distillation + EMA) "
                              "into an OpenVINO pipeline folder")
    qat.add_argument("--model", default="tiny", help=sources.MODEL_HELP)
    qat.add_argument("--data", default=None, help="image-caption folder (metadata.jsonl with file_name and text), "
                     "or 'world' for a shapes model's own world (its default); otherwise data-free: the FP32 "
                     "teacher draws the training images")
    qat.add_argument("--steps", type=int, default=None, help="optimizer steps (default: 4096; 20 on built-ins)")
    qat.add_argument("--learning-rate", type=float, default=None, help="AdamW rate of the weights (1e-5)")
    qat.add_argument("--batch-size", type=int, default=None, help="examples per micro-step (1)")
    qat.add_argument("--accumulation", type=int, default=None, help="micro-steps per optimizer step (4)")
    qat.add_argument("--distillation-weight", type=float, default=None, help="weight of the MSE to the teacher (1)")
    qat.add_argument("--task-weight", type=float, default=None, help="weight of the noise-prediction MSE "
                     "(1; 0 on random-weight built-ins)")
    qat.add_argument("--no-ema", action="store_true", help="export the raw weights instead of their EMA")
    qat.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints (50)")
    qat.add_argument("--seed", type=int, default=None)
    qat.add_argument("--resolution", default=None, help="N or HxW; default: the model's native size")
    qat.add_argument("--cache", default=None, help=CACHE_HELP)
    qat.add_argument("--out", type=Path, required=True, help="where to write the OpenVINO pipeline folder")
    shapes = commands.add_parser("train-shapes", help="train the shapes model (CLIP, VAE, UNet) into a pipeline "
                                 "folder with a manifest; run again to resume")
    shapes.add_argument("--out", type=Path, required=True, help="the pipeline folder to write (must not exist)")
    shapes.add_argument("--seed", type=int, default=0)
    for stage in ("clip", "vae", "unet"):
        shapes.add_argument(f"--{stage}-steps", type=int, default=None, help=f"optimizer steps of the {stage} "
                            "stage (default: the shipped model's)")
    data = commands.add_parser("shapes-data", help="write the shapes world's training images and captions as an "
                               "image-caption folder (for `sdopt qat --data`)")
    data.add_argument("--out", type=Path, required=True, help="the folder to write (must not exist)")
    data.add_argument("--count", type=int, default=2048, help="image-caption pairs (2048)")
    data.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if argv is None:  # the command's own process: builds export through optimum, which collects per component
        freeze_what_is_loaded()
    _quiet_libraries()
    try:
        return COMMANDS[args.command](args)
    except SdoptError as exc:
        print(f"sdopt: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # builds stage into temporary folders: nothing half-made is left in the cache
        print(f"sdopt {args.command}: interrupted; the cache keeps finished builds only (and QAT checkpoints, "
              f"which the next build resumes from)", file=sys.stderr)
        return 130


def _quiet_libraries() -> None:
    """Library chatter (safety-checker notices, tracer warnings) buries the one line a user wants."""
    warnings.filterwarnings("ignore")
    for name in ("diffusers", "transformers", "optimum", "nncf"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _list(args) -> int:
    width = max(map(len, recipes.REGISTRY))
    stages = {name: ">".join(build_stages(recipe)) for name, recipe in recipes.REGISTRY.items()}
    stages_width = max(map(len, stages.values()))
    for recipe in recipes.REGISTRY.values():
        print(f"{recipe.name:<{width}}  {recipe.runtime:<8}  {stages[recipe.name]:<{stages_width}}  {recipe.summary}")
    for runtime, under in recipes.RUNTIME_LAYERS.items():
        print(f"\nEvery {under} variant without step caching also runs on {runtime}: NAME[runtime={runtime}] "
              f"(the same IRs; in the suites, --runtimes {under},{runtime})")
    return 0


def _cache(args) -> int:
    cache = Cache(args.cache)
    entries = cache.entries()
    if args.cache_command == "list":
        for entry in entries:
            print(_entry_line(entry))
        print(f"{len(entries)} entries, {sum(e.bytes for e in entries) / 1e9:.2f} GB in {cache.root}")
        return 0
    doomed = prunable(entries, args.unused_days, library_versions() if args.stale else None)
    freed = 0
    for entry in doomed:
        if cache.remove(entry, dry_run=args.dry_run):
            freed += entry.bytes
            print(("would remove " if args.dry_run else "removed ") + _entry_line(entry))
        else:
            print(f"kept (a build holds it) {_entry_line(entry)}")
    print(f"{'would free' if args.dry_run else 'freed'} {freed / 1e9:.2f} GB in {cache.root}")
    return 0


def _entry_line(entry) -> str:
    used = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.last_used))
    return f"{entry.kind:<13} {entry.bytes / 1e6:>10.1f} MB  used {used}  {entry.folder.name}"


def _build(args) -> int:
    print(build(args.variant, args.model, args.resolution, Cache(args.cache), rebuild=args.rebuild))
    return 0


def _generate(args) -> int:
    sampling = _source(args.model).sampling
    args.scheduler = schedulers.check(args.scheduler or sampling.scheduler)
    args.steps = sampling.steps if args.steps is None else args.steps
    check_steps(args.steps)
    guidance = sampling.guidance if args.guidance is None else sampling.check_guidance(args.guidance)
    recipes.get(args.variant)
    resolution = None
    if args.height or args.width:
        resolution = (args.height or args.width, args.width or args.height)
    folder = build(args.variant, args.model, parse_resolution(resolution, _source(args.model)) if resolution else None,
                   Cache(args.cache), rebuild=args.rebuild)
    variant = open_variant(folder)
    height, width = variant.resolution or parse_resolution(resolution, _source(args.model))
    started = time.perf_counter()
    result = variant.generate(args.prompt, args.steps, args.scheduler, args.seed, height, width, guidance)
    elapsed = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result.images[0].save(args.out)
    print(f"{args.out}: {args.variant}, {args.steps} steps {args.scheduler}, guidance {guidance:g}, {height}x{width}, "
          f"{elapsed:.2f}s")
    return 0


def _source(model):
    return resolve(model)


def _qat(args) -> int:
    """The ov-int8-qat variant with the given settings, built through the cache (so an interrupted run
    resumes from its last checkpoint when the same command is run again), then linked into --out."""
    options = {"steps": args.steps, "learning_rate": args.learning_rate, "batch_size": args.batch_size,
               "accumulation": args.accumulation, "distillation_weight": args.distillation_weight,
               "task_weight": args.task_weight, "checkpoint_every": args.checkpoint_every, "seed": args.seed,
               "data": args.data if args.data == recipes.WORLD_DATA else None}
    options = {k: v for k, v in options.items() if v is not None}
    if args.no_ema:
        options["ema"] = False
    recipe = recipes.get(VariantSpec.of("ov-int8-qat", options))
    if args.data not in (None, recipes.WORLD_DATA):  # a folder: an input of the build, not a word of the name
        recipe = recipes.with_training_data(recipe, Path(args.data).resolve())
    if args.out.exists() and any(args.out.iterdir()):
        raise SdoptError(f"--out {args.out} exists and is not empty: pick a new folder")
    folder = build(recipe, args.model, args.resolution, Cache(args.cache))
    staging = args.out.with_name(f".{args.out.name}.partial")
    link_copy(folder, staging)
    (staging / "sdopt-artifact.json").write_text((folder / "sdopt-artifact.json").read_text())
    if args.out.exists():
        args.out.rmdir()
    staging.rename(args.out)
    print(f"{args.out}: OpenVINO pipeline with the QAT int8 UNet (training log: {args.out / 'training_log.csv'})")
    return 0


def _train_shapes(args) -> int:
    settings = with_seed(ShapesTraining(), args.seed)
    steps = {stage: getattr(args, f"{stage}_steps") for stage in ("clip", "vae", "unet")}
    for stage, value in steps.items():
        if value is not None:
            if value < 1:
                raise SdoptError(f"--{stage}-steps {value}: at least 1")
            settings = replace(settings, **{stage: replace(getattr(settings, stage), steps=value)})
    command = " ".join(["sdopt", "train-shapes", "--out", str(args.out), "--seed", str(args.seed)]
                       + [f"--{stage}-steps {value}" for stage, value in steps.items() if value is not None])
    if args.out.exists():
        raise SdoptError(f"--out {args.out} exists: remove it or pick a new folder (a run in progress resumes "
                         f"from {args.out}.work)")
    print(train_shapes(args.out, settings, command=command))
    return 0


def _shapes_data(args) -> int:
    if args.count < 1:
        raise SdoptError(f"--count {args.count}: at least 1")
    if args.out.exists():
        raise SdoptError(f"--out {args.out} exists: pick a new folder")
    write_imagefolder(args.out, args.count, args.seed)
    print(f"{args.out}: {args.count} training images of the shapes world with their captions")
    return 0


COMMANDS = {"list": _list, "build": _build, "generate": _generate, "qat": _qat, "cache": _cache,
            "train-shapes": _train_shapes, "shapes-data": _shapes_data}
