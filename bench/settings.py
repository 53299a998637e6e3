"""A run's settings: the suites' options, parsed and checked once, apart from pytest.

The same table makes the pytest options (bench/plugin.py) and the arguments `Settings.pytest_args` hands back,
so a run can be described in Python (`Settings.parse(model="sd15-arch", steps="3")`), checked before anything is
built, and started with `bench.run`.
"""
from dataclasses import dataclass
from pathlib import Path

import sdopt
from sdopt import cache as sdopt_cache
from sdopt import schedulers, sources
from sdopt.prompts import EVALUATION_PROMPTS
from sdopt.shapes.world import benchmark_captions

from .probes.quality import load_reference_folder


@dataclass(frozen=True)
class Option:
    name: str  # the attribute; the pytest option is --name with dashes
    default: object
    help: str
    type: type = str
    flag: bool = False  # a switch: present or not

    @property
    def command_line(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS = (
    Option("model", "tiny", sources.MODEL_HELP + " (default: tiny)"),
    Option("variants", "all", "comma-separated variants, or 'all' (see `sdopt list`)"),
    Option("runtimes", None, "comma-separated runtimes every OpenVINO variant runs on, side by side: openvino (the "
                             "optimum-intel Python pipeline), genai (OpenVINO GenAI's C++ pipeline on the same IRs); "
                             "default: the runtime each variant names"),
    Option("steps", "4", "comma-separated step counts"),
    Option("schedulers", None, "comma-separated scheduler names (default: the kind the model is made for: pndm on "
                               "SD-1.x, euler on SDXL, euler-a on SDXL-Turbo, lcm on LCM)"),
    Option("resolution", None, "N or HxW; default: the model's native size"),
    Option("prompts", None, "a file with one prompt per line (default: built-in)"),
    Option("guidance", None, "classifier-free guidance scale, above 1 (default: the model's own: a shapes model's "
                             "in sdopt/shapes/model.py, 7.5 on SD-1.x, 5 on SDXL; guidance-distilled models such as "
                             "SDXL-Turbo take 0 to 1, LCM any scale from 0)", float),
    Option("seed", 42, "the seed of the latency suite's generations", int),
    Option("rounds", 3, "latency rounds per case, the replicates: each loads the variant afresh, warms it up and "
                        "times one generation (5 or more for intervals and `bench compare` verdicts)", int),
    Option("interleave", False, "time the latency rounds round-robin (every variant once, then again), so that "
                                "drift on a shared machine reaches every variant alike", flag=True),
    Option("threads", None, "inference threads (default: all usable cores)", int),
    Option("sdopt_cache", None, sdopt_cache.HELP),
    Option("rebuild", False, "rebuild the requested variants", flag=True),
    Option("profile", False, "write per-layer profiles of the UNet (runtimes that count per layer)", flag=True),
    Option("results_dir", "results", "where run folders are written"),
    Option("quality_prompts", None, "how many of the prompts the quality suite generates (default 4 of the "
                                    "built-in 52; on a shapes model all 301 of its world's held-out prompts)", int),
    Option("seeds", "0", "comma-separated seeds: images per prompt in the quality suite"),
    Option("fid_reference", None, "a folder of real images as FID/KID reference (default: the torch-fp32 images; "
                                  "on a shapes model, what its world draws for the same prompts)"),
    Option("clip_model", None, "a CLIP hub id or local folder for CLIP score (default on a shapes model: its "
                               "own CLIP)"),
)
DEFAULTS = {option.name: option.default for option in OPTIONS}


@dataclass(frozen=True)
class Case:
    variant: str
    steps: int
    scheduler: str

    def __str__(self):
        return f"{self.variant}-{self.steps}-{self.scheduler}"


@dataclass(frozen=True)
class Settings:
    model: str
    variants: tuple
    steps: tuple
    schedulers: tuple
    resolution: tuple
    prompts: tuple
    guidance: float
    seed: int
    rounds: int
    interleave: bool
    threads: int | None
    cache: sdopt.Cache
    rebuild: bool
    profile: bool
    results_dir: Path
    quality_prompts: tuple
    seeds: tuple
    fid_reference: Path | None
    clip_model: str | None
    world: bool = False  # a shapes model: prompts, FID reference and adherence come from its world
    options: tuple = ()  # (name, value) as given: what `pytest_args` hands back
    refused: tuple = ()  # (variant, why): what --runtimes asked for that its runtime cannot run, or the model
    # cannot be built as
    left_out: tuple = ()  # (variant, steps, why): step counts a variant refuses, not collected

    @property
    def resolution_label(self) -> str:
        return f"{self.resolution[0]}x{self.resolution[1]}"

    def cases(self) -> list[Case]:
        """Every variant x steps x scheduler the variants can run: what they refuse is in `left_out`."""
        skipped = {(variant, steps) for variant, steps, _ in self.left_out}
        return [Case(v, n, sch) for v in self.variants for n in self.steps for sch in self.schedulers
                if (v, n) not in skipped]

    def first_case(self, variant: str) -> Case | None:
        """The case a per-variant measurement (peak memory) generates with: the first the variant can run."""
        return next((case for case in self.cases() if case.variant == variant), None)

    def not_run(self) -> list[str]:
        """One line per combination left out, with the variant's own reason."""
        return ([f"{name}: {why}" for name, why in self.refused]
                + [f"{variant} at {steps} steps: {why}" for variant, steps, why in self.left_out])

    def pytest_args(self) -> list[str]:
        """The command line that makes pytest parse these same settings."""
        by_name = {option.name: option for option in OPTIONS}
        args = []
        for name, value in self.options:
            option = by_name[name]
            if option.flag:
                args += [option.command_line] if value else []
            elif value is not None and value != option.default:
                args += [option.command_line, str(value)]
        return args

    @classmethod
    def parse(cls, **given) -> "Settings":
        """Check every option once; a bad value raises sdopt.BadArgument (or UnknownName) naming it."""
        unknown = set(given) - set(DEFAULTS)
        if unknown:
            raise sdopt.UnknownName("option", sorted(unknown)[0], DEFAULTS)
        opt = DEFAULTS | given
        variants = (sdopt.recipes.default_variants() if opt["variants"] == "all"
                    else sdopt.spec.split(opt["variants"]))
        for name in variants:
            sdopt.get_recipe(name)
        refused = {}
        if opt["runtimes"]:
            variants, refused = sdopt.recipes.on_runtimes(variants, _split(opt["runtimes"]))
        for name in _split(opt["schedulers"] or ""):
            schedulers.check(name)
        try:
            steps = tuple(int(s) for s in _split(str(opt["steps"])))
        except ValueError:
            steps = ()
        if not steps or min(steps) <= 0:
            raise sdopt.BadArgument(f"--steps needs positive integers, got {opt['steps']!r}")
        source = sources.resolve(opt["model"])
        resolution = sdopt.parse_resolution(opt["resolution"], source)
        variants, refused = _buildable(variants, refused, source)
        world = source.kind == "shapes"
        prompts = EVALUATION_PROMPTS
        if world:
            prompts = benchmark_captions()
        if opt["prompts"]:
            path = Path(opt["prompts"])
            if not path.is_file():
                raise sdopt.BadArgument(f"--prompts {path} is not a file (one prompt per line)")
            prompts = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
            if not prompts:
                raise sdopt.BadArgument(f"--prompts {path} holds no prompt")
        for name in ("rounds", "threads", "quality_prompts"):
            if opt[name] is not None and int(opt[name]) <= 0:
                raise sdopt.BadArgument(f"--{name.replace('_', '-')} must be at least 1, got {opt[name]}")
        sampling = source.sampling
        guidance = (sampling.guidance if opt["guidance"] is None
                    else _checked("--guidance", sampling.check_guidance, opt["guidance"]))
        sdopt.isa.recipe_class()  # a bad SDOPT_ISA stops the session here, not in the middle of a build
        try:
            seeds = tuple(int(v) for v in _split(str(opt["seeds"])))
        except ValueError:
            raise sdopt.BadArgument(f"--seeds needs comma-separated integers, got {opt['seeds']!r}") from None
        if not seeds:
            raise sdopt.BadArgument("--seeds needs at least one integer")
        fid_reference = Path(opt["fid_reference"]) if opt["fid_reference"] else None
        if fid_reference is not None:
            load_reference_folder(fid_reference)  # refuse a missing, empty or unreadable folder up front
        quality_prompts = opt["quality_prompts"] or (len(prompts) if world and not opt["prompts"] else 4)
        clip_model = opt["clip_model"] or (str(source.folder / "clip") if world else None)
        left_out = tuple((v, n, why) for v in variants for n in steps
                         if (why := sdopt.get_recipe(v).refuses(n)) is not None)
        return cls(opt["model"], variants, steps, _split(opt["schedulers"] or sampling.scheduler), resolution, prompts, guidance, int(opt["seed"]),
                   int(opt["rounds"]), bool(opt["interleave"]), opt["threads"], sdopt.Cache(opt["sdopt_cache"]),
                   bool(opt["rebuild"]), bool(opt["profile"]), Path(opt["results_dir"]),
                   prompts[:int(quality_prompts)], seeds, fid_reference, clip_model, world,
                   tuple(sorted(given.items())), tuple(refused.items()), left_out)


def _buildable(variants, refused: dict, source):
    """The variants this model can be built as; the others are left out with their reason (a stage the model's
    family cannot run), so one variant list serves every family. None left is refused here, before any work."""
    keep, reasons = [], []
    for name in variants:
        reason = sdopt.build_refusal(name, source)
        if reason:
            refused[name] = reason.removeprefix(f"{name} ")
            reasons.append(reason)
        else:
            keep.append(name)
    if variants and not keep:
        raise sdopt.BadArgument("no variant asked for can be built for this model: " + "; ".join(reasons))
    return tuple(keep), refused


def _checked(option: str, check, value):
    try:
        return check(value)
    except sdopt.BadArgument as exc:
        raise sdopt.BadArgument(f"{option}: {exc}") from None


def _split(value: str) -> tuple:
    return tuple(v.strip() for v in value.split(",") if v.strip())
