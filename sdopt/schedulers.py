"""Schedulers by the names users type; every variant accepts every scheduler.

Each is made from the model's own scheduler config (its noise schedule, prediction type and timestep spacing);
`native` is the model's own scheduler class as it ships.
"""
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, LCMScheduler, PNDMScheduler)

from .errors import UnknownName

SCHEDULERS = {
    "pndm": PNDMScheduler,  # the SD-1.x pipeline default
    "ddim": DDIMScheduler,
    "euler": EulerDiscreteScheduler,
    "euler-a": EulerAncestralDiscreteScheduler,
    "dpm++2m": DPMSolverMultistepScheduler,
    "lcm": LCMScheduler,
    "native": None,  # the model's own scheduler class
}
# Stable Diffusion pipelines run PNDM without its Runge-Kutta warm-up steps; with them a short schedule fails
# ("operands could not be broadcast") on models whose own scheduler is another one.
OVERRIDES = {"pndm": {"skip_prk_steps": True}}


def check(name: str) -> str:
    if name not in SCHEDULERS:
        raise UnknownName("scheduler", name, SCHEDULERS)
    return name


def make(name: str, own) -> object:
    """A fresh scheduler of kind `name` with the noise schedule of `own`, the scheduler the model ships with."""
    kind = SCHEDULERS[check(name)] or type(own)
    return kind.from_config(own.config, **OVERRIDES.get(name, {}))
