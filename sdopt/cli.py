"""sdopt list | build | generate: the command-line face of the Python API."""
import argparse
import sys
import time
from pathlib import Path

from . import recipes, schedulers
from .build import build, parse_resolution
from .cache import Cache
from .errors import SdoptError


def _common(parser):
    parser.add_argument("variant", help="a registered variant (see `sdopt list`)")
    parser.add_argument("--model", default="tiny", help="tiny, sd15-arch, a hub id or a diffusers folder")
    parser.add_argument("--resolution", default=None, help="N or HxW; default: the model's native size")
    parser.add_argument("--cache", default=None, help="cache folder (default: $SDOPT_CACHE or ~/.cache/sdopt)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the variant even if it is cached")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="sdopt", description="make optimized Stable Diffusion variants")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the registered variants, one line each")
    _common(commands.add_parser("build", help="build a variant (or reuse it) and print its folder"))
    generate = commands.add_parser("generate", help="build or reuse a variant and write one image")
    _common(generate)
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--steps", type=int, default=20)
    generate.add_argument("--scheduler", default="pndm", help=", ".join(schedulers.SCHEDULERS))
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--height", type=int, default=None)
    generate.add_argument("--width", type=int, default=None)
    generate.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    _quiet_libraries()
    try:
        return COMMANDS[args.command](args)
    except SdoptError as exc:
        print(f"sdopt: error: {exc}", file=sys.stderr)
        return 2


def _quiet_libraries() -> None:
    """Library chatter (safety-checker notices, tracer warnings) buries the one line a user wants."""
    import logging
    import warnings
    warnings.filterwarnings("ignore")
    for name in ("diffusers", "transformers", "optimum", "nncf"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _list(args) -> int:
    width = max(map(len, recipes.REGISTRY))
    for recipe in recipes.REGISTRY.values():
        print(f"{recipe.name:<{width}}  {recipe.runtime:<8}  {recipe.summary}")
    return 0


def _build(args) -> int:
    print(build(args.variant, args.model, args.resolution, Cache(args.cache), rebuild=args.rebuild))
    return 0


def _generate(args) -> int:
    from .pipeline import check_steps, open_variant
    schedulers.check(args.scheduler)
    check_steps(args.steps)
    recipes.get(args.variant)
    resolution = None
    if args.height or args.width:
        resolution = (args.height or args.width, args.width or args.height)
    folder = build(args.variant, args.model, parse_resolution(resolution) if resolution else None,
                   Cache(args.cache), rebuild=args.rebuild)
    variant = open_variant(folder)
    height, width = variant.resolution or parse_resolution(resolution, _source(args.model))
    started = time.perf_counter()
    result = variant.generate(args.prompt, args.steps, args.scheduler, args.seed, height, width)
    elapsed = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result.images[0].save(args.out)
    print(f"{args.out}: {args.variant}, {args.steps} steps {args.scheduler}, {height}x{width}, {elapsed:.2f}s")
    return 0


def _source(model):
    from .sources import resolve
    return resolve(model)


COMMANDS = {"list": _list, "build": _build, "generate": _generate}
