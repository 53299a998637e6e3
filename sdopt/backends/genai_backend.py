"""OpenVINO GenAI: the C++ Text2ImagePipeline that deployments ship, over the same IR folders as the Python
backend, compiled with the same settings.

GenAI runs its own loop in C++: Python can neither wrap its calls nor swap its UNet between steps, so the parts
of a generation come from GenAI's own performance metrics, and step caching cannot run here.
"""
import functools
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import families, schedulers
from ..errors import BadArgument
from ..ir import IR
from .base import Generation, Variant
from .openvino_backend import PRECISION_STAGE, READ_BACK, apply_precision, ov_config

# The project's scheduler names -> GenAI's built-in kinds; the rest are refused with GenAI's list.
GENAI_SCHEDULERS = {"pndm": "PNDM", "ddim": "DDIM", "euler": "EULER_DISCRETE",
                    "euler-a": "EULER_ANCESTRAL_DISCRETE", "lcm": "LCM"}
# Config switches diffusers honours and GenAI's kinds assert against (found in GenAI's scheduler sources), asked
# before a generation rather than failing inside it after the text encoder and the first UNet call.
UNSUPPORTED_SETTINGS = {"ddim": ("clip_sample", "thresholding"),
                        "euler": ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas")}
TOKENIZER_IR = "openvino_tokenizer.xml"  # in each tokenizer's folder
MS, US = 1e-3, 1e-6  # GenAI reports the text encoder and VAE in milliseconds, UNet calls and steps in microseconds


def layout_problems(folder: Path) -> list[str]:
    """What keeps GenAI's Text2ImagePipeline from opening `folder` (empty when nothing does)."""
    problems = []
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        return [f"{index_path} is missing"]
    index = json.loads(index_path.read_text())
    try:
        family = families.of_class(index.get("_class_name"))
    except BadArgument as exc:
        return [str(exc)]
    if not family.genai_pipeline:
        return [f"OpenVINO GenAI runs no {family.title} pipeline"]
    for component, wanted in family.genai_index_classes.items():
        entry = index.get(component) or [None, None]
        if entry[1] != wanted:
            problems.append(f"model_index.json's {component} is {entry[1]!r}, GenAI reads only {wanted}")
    needed = (*family.text_encoders, "unet", "vae_decoder")
    problems += [f"{folder / name / IR} is missing" for name in needed if not (folder / name / IR).is_file()]
    if not (folder / "scheduler" / "scheduler_config.json").is_file():
        problems.append("scheduler/scheduler_config.json is missing")
    return problems


def standard_unet_problem(unet_ir: Path) -> str | None:
    """Why GenAI cannot drive this UNet IR (None if it can): GenAI feeds exactly the family's inputs and reads one
    output, so a graph with more (step caching's cached feature) needs the project's own loop."""
    import openvino as ov
    family = families.of_folder(Path(unet_ir).parent.parent)  # the artifact the IR's folder is in
    model = ov.Core().read_model(unet_ir)
    inputs = sorted(name for port in model.inputs for name in port.get_names())
    wanted = family.denoiser_inputs
    if set(wanted) - set(inputs) or len(model.inputs) != len(wanted) or len(model.outputs) != 1:
        outputs = [sorted(port.get_names()) for port in model.outputs]
        return (f"its UNet takes {inputs} and returns {len(outputs)} outputs {outputs}; GenAI feeds "
                f"{list(wanted)} and reads one output")
    return None


@functools.lru_cache(maxsize=16)
def _read_back(ir: Path, config: tuple) -> dict:
    """What the CPU plugin makes of `config` for this IR, read back from a compiled model (once per IR and
    settings: the latency suite opens a variant afresh every round)."""
    import openvino as ov
    compiled = ov.Core().compile_model(ir, "CPU", dict(config))
    read = {key: compiled.get_property(key) for key in READ_BACK}
    precision = read["INFERENCE_PRECISION_HINT"]
    read["INFERENCE_PRECISION_HINT"] = getattr(precision, "get_type_name", lambda: str(precision))()
    return {key: value if isinstance(value, (int, float, bool)) else str(value) for key, value in read.items()}


class GenAIVariant(Variant):
    runtime = "genai"
    static_shapes = True

    def _load(self, perf_counters: bool):
        import openvino_genai
        missing = [f"{self.folder / name / TOKENIZER_IR} is missing (GenAI tokenizes in OpenVINO: the tokenizer "
                   f"converted by openvino-tokenizers; build the variant with runtime=genai)"
                   for name in self.family.tokenizers if not (self.folder / name / TOKENIZER_IR).is_file()]
        problems = missing + layout_problems(self.folder)
        if problems:
            raise BadArgument(f"{self.folder.name} cannot open on OpenVINO GenAI: " + "; ".join(problems))
        if perf_counters:
            raise BadArgument("OpenVINO GenAI gives no per-layer counters; profile the same variant on the openvino "
                              "runtime (the IRs are the same)")
        self.config = ov_config(self.threads)
        # every stage is in the IRs but their precision; step caching, which is not, GenAI's loop cannot run
        self.on_open({PRECISION_STAGE: functools.partial(apply_precision, self.config)})
        self._configs = tempfile.TemporaryDirectory(prefix="sdopt-genai-schedulers-")
        self._unet = None  # GenAI's own UNet model, compiled on the first teacher-forced call
        self._scheduler_in_use = None
        # reads the IRs; compile() picks the device
        return getattr(openvino_genai, self.family.genai_pipeline)(str(self.folder))

    def _latent_grid(self) -> tuple[int, int]:
        vae = json.loads((self.folder / "vae_decoder" / "config.json").read_text())
        unet = json.loads((self.folder / "unet" / "config.json").read_text())
        return 2 ** (len(vae["block_out_channels"]) - 1), int(unet["in_channels"])

    def _shipped_scheduler(self):
        import diffusers
        config = json.loads((self.folder / "scheduler" / "scheduler_config.json").read_text())
        return getattr(diffusers, config["_class_name"]).from_config(config)

    def compile(self) -> None:
        height, width = self.resolution
        # The UNet batch the model's guidance takes (GenAI reads it from the scale: a batch of two above 1, when it
        # also reshapes the text encoder to encode both prompts in one call).
        self.pipe.reshape(1, height, width, self.sampling.guidance)
        self.pipe.compile("CPU", **self.config)

    def settings_in_force(self) -> dict:
        """GenAI reads back nothing it compiled (its blob export, the only way to a compiled model, is SDXL-only),
        so the settings it was given are recorded beside what the same OpenVINO core makes of them, read back from
        the smallest of these IRs compiled with them: the plugin's resolution of the same request."""
        import openvino_genai
        return super().settings_in_force() | {
            "openvino_genai": openvino_genai.__version__, "given_to_genai": dict(self.config),
            "same_settings_read_back": _read_back(self.folder / "vae_decoder" / IR, tuple(sorted(self.config.items())))}

    def _genai_scheduler(self, name: str):
        """GenAI's scheduler of kind `name` with the noise schedule the Python backends use (the model's own
        config, with the project's overrides): the config diffusers resolves is what GenAI reads."""
        import openvino_genai
        own = self._own_scheduler
        if name == "native":
            native = {cls.__name__: key for key, cls in schedulers.SCHEDULERS.items() if cls is not None}
            if type(own).__name__ not in native:
                raise BadArgument(f"{self.name}: the model's own scheduler {type(own).__name__} has no OpenVINO "
                                  f"GenAI counterpart (GenAI runs {', '.join(sorted(GENAI_SCHEDULERS))})")
            name = native[type(own).__name__]
        if name not in GENAI_SCHEDULERS:
            raise BadArgument(f"scheduler {name} has no OpenVINO GenAI counterpart; GenAI runs "
                              f"{', '.join(sorted(GENAI_SCHEDULERS))}")
        config = dict(schedulers.make(name, own).config)
        refused = [key for key in UNSUPPORTED_SETTINGS.get(name, ()) if config.get(key)]
        if refused:
            raise BadArgument(f"scheduler {name}: this model's scheduler config sets {', '.join(refused)}, which "
                              f"OpenVINO GenAI's {GENAI_SCHEDULERS[name]} does not implement (diffusers does): the "
                              f"two runtimes would draw different images")
        path = Path(self._configs.name) / f"{name}.json"
        path.write_text(json.dumps(config, default=str))
        return openvino_genai.Scheduler.from_config(str(path), getattr(openvino_genai.Scheduler.Type,
                                                                       GENAI_SCHEDULERS[name]))

    def unet_calls(self, scheduler: str, steps: int) -> tuple[int, int]:
        self._genai_scheduler(self.sampled_as(steps, scheduler)[1])  # what GenAI cannot run is refused here too
        return super().unet_calls(scheduler, steps)

    def generate(self, prompt: str, steps: int, scheduler: str, seed: int, height: int, width: int,
                 guidance_scale: float | None = None, on_step=None, wrap=None, decode: bool = True) -> Generation:
        """One image through GenAI's own loop. `wrap` cannot reach inside it: the returned Generation carries the
        parts' seconds as GenAI measured them instead. The final latents come from GenAI's step callback. GenAI
        has no latent-only output: `decode` False still decodes (its images are returned)."""
        import openvino_genai
        steps, scheduler = self.sampled_as(steps, scheduler)
        guidance_scale = self.check_call(steps, guidance_scale, height, width)
        if self._scheduler_in_use != scheduler:
            self.pipe.set_scheduler(self._genai_scheduler(scheduler))
            self._scheduler_in_use = scheduler
        final = {}

        def step_end(step, num_steps, latent):
            if step == num_steps - 1:
                final["latents"] = torch.from_numpy(np.array(latent.data, copy=True))
            if on_step:
                on_step(step)
            return False  # never stop early

        image = self.pipe.generate(prompt, guidance_scale=guidance_scale, height=height, width=width,
                                   num_inference_steps=steps, generator=openvino_genai.TorchGenerator(seed),
                                   callback=step_end)
        if "latents" not in final:
            raise RuntimeError(f"{self.name}: GenAI's callback did not deliver the last step's latents (it runs on its "
                               f"own thread and may drop the last item when it lags behind)")
        metrics = self.pipe.get_performance_metrics()
        unet = [us * US for us in metrics.raw_metrics.unet_inference_durations]
        iterations = [us * US for us in metrics.raw_metrics.iteration_durations]
        # one part per text encoder, named as the Python runtimes' call points name them
        parts = {name: [ms * MS] for name, ms in metrics.get_text_encoder_infer_duration().items()}
        parts |= {"unet": unet,
                 # the step's time outside the UNet: guidance arithmetic, the scheduler's step, the callback hand-off
                 "scheduler_step": [max(0.0, step - call) for step, call in zip(iterations, unet)],
                 "vae_decode": [metrics.get_vae_decoder_infer_duration() * MS]}  # decoding to uint8 pixels included
        images = [Image.fromarray(pixels) for pixels in np.array(image.data)]
        return Generation(images, final["latents"], parts=parts, step_seconds=iterations)

    def _unet_call(self, inputs: dict):
        """GenAI's own UNet model on the artifact's UNet IR, compiled with the same settings; every input but the
        sample and timestep is a hidden state to GenAI (the text embeddings, SDXL's time ids, LCM's w-embedding)."""
        import openvino as ov
        import openvino_genai
        if self._unet is None:
            text = json.loads((self.folder / "text_encoder" / "config.json").read_text())
            self._unet = openvino_genai.UNet2DConditionModel(str(self.folder / "unet"))
            self._unet.reshape(np.shape(inputs["sample"])[0], *self.resolution, int(text["max_position_embeddings"]))
            self._unet.compile("CPU", **self.config)
        for name, value in inputs.items():
            if name not in ("sample", "timestep"):
                self._unet.set_hidden_states(name, ov.Tensor(np.ascontiguousarray(value)))
        timestep = ov.Tensor(np.asarray(inputs["timestep"], dtype=np.int64).reshape(1))
        prediction = self._unet.infer(ov.Tensor(np.ascontiguousarray(inputs["sample"])), timestep)
        return (torch.from_numpy(np.array(prediction.data, copy=True)),)  # a tuple, as the other runtimes' outputs
