"""OpenVINO through optimum-intel's pipeline: IR with static shapes, compiled with explicit settings."""
import functools

import numpy as np
import torch

from ..deepcache import SHALLOW_UNET, STEP_FEATURE
from ..errors import BadArgument
from ..ir import IR
from .base import Variant

# Read back from every compiled component: what the runtime really uses, whatever was asked for.
READ_BACK = ("INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "NUM_STREAMS",
             "ENABLE_CPU_PINNING", "ENABLE_HYPER_THREADING", "EXECUTION_MODE_HINT", "CPU_DENORMALS_OPTIMIZATION")
COMPILED_COMPONENTS = ("text_encoder", "unet", "vae_decoder")


# The inference-precision stage's words -> the CPU plugin's OPTIMIZATION_CAPABILITIES entry that runs it natively.
PRECISION_CAPABILITY = {"f32": "FP32", "bf16": "BF16"}
PRECISION_STAGE = "inference-precision"  # sdopt/methods/precision.py


@functools.lru_cache(maxsize=1)
def cpu_capabilities() -> tuple:
    """What OpenVINO's CPU plugin says this machine runs natively (BF16 needs AVX-512 BF16 or AMX)."""
    import openvino as ov
    return tuple(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def precision_refusal(precision: str) -> str | None:
    """Why this machine cannot run float operations at `precision` (None: it can): the CPU plugin would
    otherwise emulate or silently run another precision, and the variant would not be what it says."""
    wanted = PRECISION_CAPABILITY[precision]
    if wanted in cpu_capabilities():
        return None
    return (f"inference_precision={precision}: OpenVINO's CPU plugin has no {wanted} on this machine (its "
            f"capabilities: {', '.join(cpu_capabilities())}; bf16 needs AVX-512 BF16 or AMX)")


def apply_precision(config: dict, options: dict) -> None:
    """The on-open applier of the inference-precision stage: refused on a machine that cannot run it (an artifact
    opened on another machine than the one it was built on)."""
    reason = precision_refusal(options["precision"])
    if reason:
        raise BadArgument(reason)
    config["INFERENCE_PRECISION_HINT"] = options["precision"]


def ov_config(threads: int, perf_counters: bool = False) -> dict:
    """Explicit runtime settings: OpenVINO would otherwise pick bf16 on CPUs that have it."""
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1",
              "INFERENCE_NUM_THREADS": str(threads)}
    if perf_counters:
        config["PERF_COUNT"] = "YES"
    return config


class OpenVINOVariant(Variant):
    runtime = "openvino"
    static_shapes = True
    has_layer_counters = True

    def _load(self, perf_counters: bool):
        self.config = ov_config(self.threads, perf_counters)
        # every stage is in the IRs but the precision they are compiled with
        self.on_open({PRECISION_STAGE: functools.partial(apply_precision, self.config)})
        # dynamic_shapes=False: optimum's default reshapes every IR back to dynamic shapes on loading, and the CPU
        # plugin then compiles shape-generic kernels (shape subgraphs, unfused int8 quantizers) for what was built
        # static; OpenVINO GenAI compiles the same IRs at their static shapes.
        return self.family.optimum_class().from_pretrained(str(self.folder), export=False, compile=False,
                                                           dynamic_shapes=False, ov_config=self.config)

    def compile(self) -> None:
        # Not pipe.compile(): that also compiles the VAE encoder, which text-to-image never runs (optimum compiles
        # a part on its first call if it is ever needed) and which would only add its weights to the resident set.
        for name in COMPILED_COMPONENTS:
            getattr(self.pipe, name).compile()
        if self.step_graphs:
            self.step_graphs[1].compile()

    def _step_graphs(self) -> tuple:
        return FullGraph(self.pipe.unet), ShallowGraph(self.folder / SHALLOW_UNET / IR, self.config)

    def settings_in_force(self) -> dict:
        """Threads, and each compiled component's precision, performance hint, streams and pinning."""
        found = super().settings_in_force()
        components = {name: getattr(self.pipe, name).request for name in COMPILED_COMPONENTS}
        if self.step_graphs:
            components[SHALLOW_UNET] = self.step_graphs[1].compiled
        for name, compiled in components.items():
            if compiled is None:
                found[name] = "not compiled"
                continue
            read = {key: compiled.get_property(key) for key in READ_BACK}
            precision = read["INFERENCE_PRECISION_HINT"]
            read["INFERENCE_PRECISION_HINT"] = getattr(precision, "get_type_name", lambda: str(precision))()
            found[name] = {key: value if isinstance(value, (int, float, bool)) else str(value)
                           for key, value in read.items()}
        return found

    def layer_counters(self, inputs: dict, repeats: int) -> list[dict]:
        """OpenVINO's performance counters (the variant must be opened with perf_counters=True)."""
        if self.config.get("PERF_COUNT") != "YES":
            raise ValueError(f"{self.name} was opened without perf_counters=True: OpenVINO counts nothing")
        request = self.pipe.unet.request.create_infer_request()
        rows = []
        for _ in range(repeats):
            request.infer(inputs)
            rows += [{"node_type": p.node_type, "exec_type": p.exec_type, "ms": p.real_time.total_seconds() * 1e3}
                     for p in request.get_profiling_info() if p.status.name == "EXECUTED"]
        return rows

    def _unet_call(self, inputs: dict):
        return self.pipe.unet(**inputs)


class FullGraph:
    """Step caching's full graph: the pipeline's own UNet IR, which returns the cached feature as its second
    output."""

    def __init__(self, unet):
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        outputs = self.unet(sample=sample, timestep=timestep, encoder_hidden_states=encoder_hidden_states,
                            return_dict=True)
        feature = outputs.pop(STEP_FEATURE)
        return next(iter(outputs.values())), feature

    def __call__(self, *args):
        return self.forward(*args)


class ShallowGraph:
    """Step caching's shallow graph, compiled with the pipeline's settings; takes the full graph's feature."""

    def __init__(self, path, config: dict):
        import openvino as ov
        self.core, self.config = ov.Core(), config
        self.model = self.core.read_model(path)
        self.timestep_shape = tuple(self.model.input("timestep").get_partial_shape().to_shape())
        self.compiled = None

    def compile(self) -> None:
        self.compiled = self.core.compile_model(self.model, "CPU", self.config)
        self.request = self.compiled.create_infer_request()
        self.model = None  # what compilation no longer needs

    def forward(self, sample, timestep, encoder_hidden_states, feature):
        inputs = {"sample": np.asarray(sample), "timestep": np.asarray(timestep).reshape(self.timestep_shape),
                  "encoder_hidden_states": np.asarray(encoder_hidden_states), STEP_FEATURE: np.asarray(feature)}
        return torch.from_numpy(self.request.infer(inputs)[0].copy())

    def __call__(self, *args):
        return self.forward(*args)
