"""Schedulers by the names users type; every variant accepts every scheduler."""
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
}


def check(name: str) -> str:
    if name not in SCHEDULERS:
        raise UnknownName("scheduler", name, SCHEDULERS)
    return name


def make(name: str, config) -> object:
    """A fresh scheduler of kind `name` with the pipeline's noise schedule."""
    return SCHEDULERS[check(name)].from_config(config)
