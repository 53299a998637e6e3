"""How far from the machine: a UNet call's arithmetic counted two independent ways (an IR's shapes, torch's
FlopCounterMode), and the machine's GEMM peak per precision, which must run the kernels it names."""
import numpy as np
import pytest

from bench.probes.peak import machine_peak, precisions
from bench.probes.unet_work import at_peak_ms, compute_precision, counted, ir_gflop, openvino_unet_ir, torch_gflop


def _convert(module, example, tmp_path):
    import openvino as ov
    import torch
    with torch.no_grad():
        model = ov.convert_model(module.eval(), example_input=example, input=[tuple(example.shape)])
    path = tmp_path / "model.xml"
    ov.save_model(model, path)
    return path


def test_the_ir_count_matches_a_hand_count_and_torchs_counter(tmp_path):
    """A convolution, a grouped one and a linear layer: 2 x multiply-adds by hand, by the IR, by torch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 8, 3, padding=1)
            self.grouped = torch.nn.Conv2d(8, 8, 3, padding=1, groups=4)
            self.linear = torch.nn.Linear(16, 5)

        def forward(self, x):
            return self.linear(self.grouped(self.conv(x)).reshape(2, 8, 16))

    x = torch.zeros(2, 4, 4, 4)
    by_hand = 2 * (2 * 8 * 16 * 4 * 9 + 2 * 8 * 16 * 2 * 9 + 2 * 8 * 5 * 16)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        Net()(x)
    assert counter.get_total_flops() == by_hand
    assert ir_gflop(_convert(Net(), x, tmp_path)) * 1e9 == pytest.approx(by_hand)


def test_a_unets_ir_and_its_torch_model_count_the_same(tiny_artifacts):
    """The exported UNet's static graph against torch's counter on the saved UNet, at the call's own shapes
    (a batch of two under classifier-free guidance)."""
    from sdopt.backends import open_variant

    counts = {}
    for name in ("torch-fp32", "ov-fp32"):
        variant = open_variant(tiny_artifacts[name], threads=1)
        with counted(variant, counts, name):
            variant.generate("a red circle", 1, "euler", 0, 128, 128)
    assert counts["ov-fp32"] == pytest.approx(counts["torch-fp32"], rel=1e-3)
    assert counts["ov-fp32"] > 0.1  # tiny's UNet at 16x16 latents, batch 2: about 0.47 GFLOP


def test_the_precision_held_against_is_what_the_unet_computes_in(tiny_artifacts):
    from sdopt.backends import open_variant
    found = {name: compute_precision(open_variant(tiny_artifacts[name], threads=1, compile=False))
             for name in ("torch-fp32", "ov-fp32", "ov-int8-ptq", "ov-int8-weights")}
    # weight-only int8 decompresses to float before its products: held against the float peak
    assert found == {"torch-fp32": "fp32", "ov-fp32": "fp32", "ov-int8-ptq": "int8", "ov-int8-weights": "fp32"}
    assert openvino_unet_ir(open_variant(tiny_artifacts["torch-fp32"], threads=1, compile=False)) is None


def test_the_peak_runs_the_kernels_of_its_precision_and_agrees_with_torch():
    """int8 must really run an int8 kernel (else its peak is a float one); OpenVINO's FP32 GEMM rate and
    torch's (the run's speed probe, another library's kernel) measure the same machine."""
    import openvino as ov
    from bench.probes.env import machine_speed

    peak = machine_peak(threads=1)
    assert set(peak) == set(precisions(ov.Core()))
    assert "i8" in peak["int8"]["kernel"].lower() and "i8" not in peak["fp32"]["kernel"].lower()
    if "bf16" in peak:
        assert "bf16" in peak["bf16"]["kernel"].lower()
    torch_rate = machine_speed(threads=1)["gemm_gflops"]
    assert torch_rate / 3 < peak["fp32"]["gflops"] < torch_rate * 3, (peak, torch_rate)
    assert peak["int8"]["gflops"] > peak["fp32"]["gflops"]  # every x86 kind here: VNNI, AMX, or AVX2's pmaddubsw


def test_at_peak_is_the_work_over_the_rate():
    peak = {"fp32": {"gflops": 200.0}, "int8": {"gflops": 800.0}}
    assert at_peak_ms(100.0, peak, "fp32") == pytest.approx(500.0)
    assert at_peak_ms(100.0, peak, "int8") == pytest.approx(125.0)
    assert at_peak_ms(100.0, peak, "bf16") is None and at_peak_ms(1.0, None, "fp32") is None
    assert np.isfinite(at_peak_ms(1.0, peak, "fp32"))
