"""PyTorch: the diffusers pipeline as saved, FP32; token merging and downsampling are patches applied on opening."""
import numpy as np
import torch

from ..deepcache import FullUNet, ShallowUNet
from ..todo import apply_todo
from ..tome import apply_tome
from .base import Variant

ADDED_CONDITIONING = ("text_embeds", "time_ids")


class TorchVariant(Variant):
    runtime = "torch"

    def _load(self, perf_counters: bool):
        torch.set_num_threads(self.threads)
        self.config = {"torch_threads": self.threads}
        pipe = self.family.load_torch(self.folder)
        self.tome = self.todo = None
        # Token merging and downsampling are patches of the loaded UNet: the manifest's on-open stages.
        self.on_open({"tome": lambda options: setattr(self, "tome", apply_tome(pipe.unet, **options)),
                      "todo": lambda options: setattr(self, "todo", apply_todo(pipe.unet, **options))})
        return pipe

    def _step_graphs(self) -> tuple:
        branch = self.step_cache["branch"]
        return FullUNet(self.pipe.unet, branch), ShallowUNet(self.pipe.unet, branch)

    def settings_in_force(self) -> dict:
        return super().settings_in_force() | {"dtype": str(self.pipe.unet.dtype).removeprefix("torch.")}

    def _unet_call(self, inputs: dict):
        tensors = {name: torch.from_numpy(np.asarray(value)) for name, value in inputs.items()}
        # diffusers takes SDXL's pooled embedding and time ids bundled, as its pipeline passes them
        added = {name: tensors.pop(name) for name in ADDED_CONDITIONING if name in tensors}
        return self.pipe.unet(**tensors, added_cond_kwargs=added or None)
