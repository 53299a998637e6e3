"""PyTorch: the diffusers pipeline as saved, FP32; token merging and downsampling are patches applied on opening."""
import json

import numpy as np
import torch

from .base import Variant


class TorchVariant(Variant):
    runtime = "torch"

    def _load(self, perf_counters: bool):
        from diffusers import StableDiffusionPipeline
        torch.set_num_threads(self.threads)
        self.config = {"torch_threads": self.threads}
        pipe = StableDiffusionPipeline.from_pretrained(self.folder, torch_dtype=torch.float32)
        self.tome = None
        if (self.folder / "tome.json").is_file():
            from ..tome import apply_tome
            self.tome = apply_tome(pipe.unet, **json.loads((self.folder / "tome.json").read_text()))
        self.todo = None
        if (self.folder / "todo.json").is_file():
            from ..todo import apply_todo
            self.todo = apply_todo(pipe.unet, **json.loads((self.folder / "todo.json").read_text()))
        return pipe

    def _step_graphs(self) -> tuple:
        from ..deepcache import FullUNet, ShallowUNet
        branch = self.step_cache["branch"]
        return FullUNet(self.pipe.unet, branch), ShallowUNet(self.pipe.unet, branch)

    def settings_in_force(self) -> dict:
        return super().settings_in_force() | {"dtype": str(self.pipe.unet.dtype).removeprefix("torch.")}

    def _unet_call(self, sample, timestep, encoder_hidden_states):
        return self.pipe.unet(torch.from_numpy(sample), torch.from_numpy(np.asarray(timestep)),
                              torch.from_numpy(encoder_hidden_states))
