"""Conversion of a diffusers pipeline folder to OpenVINO IR with static shapes, via optimum-intel."""
import warnings
from pathlib import Path

import numpy as np
import torch

from . import families
from .deepcache import STEP_FEATURE, FullUNet, ShallowUNet
from .ir import replace_ir


class UNetCall(torch.nn.Module):
    """The UNet with the inputs and output optimum-intel's pipeline uses: one tensor out, named inputs (traced by
    name, so a family's extra inputs, SDXL's pooled embedding and time ids or LCM's guidance embedding, are taken
    where its IR has them)."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds=None, time_ids=None, timestep_cond=None):
        added = {"text_embeds": text_embeds, "time_ids": time_ids} if text_embeds is not None else None
        return self.unet(sample, timestep, encoder_hidden_states, timestep_cond=timestep_cond,
                         added_cond_kwargs=added, return_dict=False)[0]


def save_torch_fp32(source_folder: Path, out: Path) -> None:
    families.of_folder(source_folder).load_torch(source_folder).save_pretrained(out, safe_serialization=True)


def saved_in_fp32(folder: Path) -> bool:
    """Every weight file of the diffusers folder is safetensors holding float32 tensors only (read from the files'
    headers), as save_torch_fp32 would write it."""
    weights = [p for p in folder.rglob("*") if p.suffix in WEIGHT_SUFFIXES]
    return bool(weights) and all(p.suffix == ".safetensors" and _dtypes(p) <= {"F32"} for p in weights)


WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".msgpack", ".h5"}


def _dtypes(path: Path) -> set:
    from safetensors import safe_open
    with safe_open(path, framework="pt") as file:  # the header only: no tensor is read
        return {file.get_slice(name).get_dtype() for name in file.keys()}


def export_openvino(torch_folder: Path, out: Path, height: int, width: int) -> None:
    family = families.of_folder(torch_folder)
    # load_in_8bit=False: optimum compresses weights of large models by default, which would make the FP32
    # variant silently int8.
    pipe = family.optimum_class().from_pretrained(torch_folder, export=True, compile=False, load_in_8bit=False)
    pipe.reshape(batch_size=1, height=height, width=width, num_images_per_prompt=1)
    # optimum shapes the UNet for a batch of two unless it takes a guidance embedding; a guidance-distilled
    # model (SDXL-Turbo) runs one input per step.
    batch = family.sampling_of(torch_folder).unet_batch
    model = pipe.unet.model
    model.reshape({port: [batch if axis == 0 and port.get_any_name() != "timestep" else dim
                          for axis, dim in enumerate(port.get_partial_shape())] for port in model.inputs})
    pipe.save_pretrained(out)


def _traced(module, example: dict):
    import openvino as ov
    from openvino.frontend.pytorch.ts_decoder import TorchScriptPythonDecoder
    with torch.no_grad(), warnings.catch_warnings():
        # No tracer self-check (as optimum-intel's export): it re-runs the module twice, which is 40% of the
        # conversion, and only reports rounding differences of fake quantization. Agreement of the exported
        # graph with the module is tested instead (tests/test_qat.py, tests/test_tome.py).
        warnings.simplefilter("ignore")
        decoder = TorchScriptPythonDecoder(module.eval(), example_input=example, trace_kwargs={"check_trace": False})
        model = ov.convert_model(decoder, example_input=example)
    for port, name in zip(model.inputs, example):
        port.get_tensor().set_names({name})
    return model


def _example_inputs(reference) -> dict:
    """Inputs of the reference IR's names and static shapes (timesteps as integers)."""
    example = {}
    for port in reference.inputs:
        shape = tuple(port.get_partial_shape().to_shape())
        integer = port.get_element_type().get_type_name() in ("i64", "i32")
        example[port.get_any_name()] = torch.from_numpy(np.full(shape, 500, np.int64) if integer
                                                        else np.full(shape, 0.5, np.float32))
    return example


def convert_step_graphs(unet, branch: int, reference_ir: Path, full_out: Path, shallow_out: Path) -> None:
    """Step caching's two graphs (sdopt/deepcache.py) as IRs beside the pipeline's own UNet IR: the full one
    keeps its inputs and first output, so the pipeline can still run it alone, and adds the feature."""
    import openvino as ov

    reference = ov.Core().read_model(reference_ir)
    example = _example_inputs(reference)
    shapes = {port.get_any_name(): port.get_partial_shape() for port in reference.inputs}
    full = _traced(FullUNet(unet, branch), example)
    full.outputs[0].get_tensor().set_names({reference.outputs[0].get_any_name()})
    full.outputs[1].get_tensor().set_names({STEP_FEATURE})
    full.reshape(shapes)
    feature_shape = full.outputs[1].get_partial_shape()
    with torch.no_grad():
        feature = FullUNet(unet, branch)(*example.values())[1]
    shallow = _traced(ShallowUNet(unet, branch), example | {"feature": torch.zeros_like(feature)})  # by argument
    shallow.inputs[3].get_tensor().set_names({STEP_FEATURE})
    shallow.outputs[0].get_tensor().set_names({reference.outputs[0].get_any_name()})
    shallow.reshape(shapes | {STEP_FEATURE: feature_shape})
    replace_ir(full, full_out)
    shallow_out.parent.mkdir(parents=True, exist_ok=True)
    replace_ir(shallow, shallow_out)


def convert_unet(module, reference_ir: Path, out: Path, int8_weights: bool = False) -> None:
    """A torch UNet (diffusers, or wrapped as `UNetCall`) to IR with the input names, static shapes and output
    name of the pipeline's own UNet IR, so it can replace it. `int8_weights` stores weights that feed
    FakeQuantize ops as int8 constants."""
    import openvino as ov

    if not hasattr(module, "unet"):
        module = UNetCall(module)
    reference = ov.Core().read_model(reference_ir)
    model = _traced(module, _example_inputs(reference))
    model.outputs[0].get_tensor().set_names({reference.outputs[0].get_any_name()})
    model.reshape({port.get_any_name(): port.get_partial_shape() for port in reference.inputs})
    if int8_weights:
        from openvino._offline_transformations import compress_quantize_weights_transformation
        compress_quantize_weights_transformation(model)
    replace_ir(model, out)


def export_tokenizer(tokenizer_folder: Path, out_xml: Path) -> None:
    """The Hugging Face tokenizer in `tokenizer_folder` as an OpenVINO model (openvino-tokenizers), which is how
    OpenVINO GenAI tokenizes: the same ids, computed in the runtime, with no Python at inference."""
    import openvino as ov
    from openvino_tokenizers import convert_tokenizer
    from transformers import AutoTokenizer
    tokenizer = convert_tokenizer(AutoTokenizer.from_pretrained(str(tokenizer_folder)))
    out_xml.parent.mkdir(parents=True, exist_ok=True)
    out_xml.unlink(missing_ok=True)  # may be a hard link into the base artifact
    out_xml.with_suffix(".bin").unlink(missing_ok=True)
    ov.save_model(tokenizer, out_xml)
