"""What the int8 VAE decoder does to pixels, on the shapes model: high-frequency energy and mean absolute
difference to the FP32 decoder on the same 32 held-out final latents (ov-int8-ptq's, 10 PNDM steps, guidance 1.5),
with NNCF PTQ of the decoder as sdopt builds it (8 calibration latents) and with conv_out (or the last three
convolutions) left in float. Run with the project's venv, HF_HUB_OFFLINE=1; output in vae_noise.txt.
hf: mean |4x - (four neighbours)| per pixel and channel, 0-255 scale."""
import numpy as np, openvino as ov, nncf
from sdopt.build import build
from sdopt.inputs import vae_calibration_samples
from sdopt.backends import open_variant
from sdopt.shapes.world import calibration_captions
base = build("ov-int8-ptq", "shapes")
cal = vae_calibration_samples(base, (64, 64), True, 1.5)
v = open_variant(base, threads=1)
sc = float(v.pipe.vae.config.scaling_factor)
held = [(v.generate(p, 10, "pndm", seed=100+i, height=64, width=64, guidance_scale=1.5).latents / sc).numpy()
        for i, p in enumerate(calibration_captions(40)[8:40])]
core = ov.Core()
path = base / "vae_decoder" / "openvino_model.xml"
model = core.read_model(path)
convs = [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"]
print(len(convs), "convs; last three:", convs[-3:])
ref = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1})
def decode(c, z): return np.clip((c(z)[0] + 1) / 2, 0, 1)[0].transpose(1, 2, 0) * 255
def hf(x): return np.abs(x[1:-1,1:-1]*4-x[:-2,1:-1]-x[2:,1:-1]-x[1:-1,:-2]-x[1:-1,2:]).mean()
refs = [decode(ref, z) for z in held]
print("fp32 hf", np.mean([hf(r) for r in refs]).round(2))
for name, ignored in [("all int8", None), ("conv_out float", convs[-1:]), ("last 3 convs float", convs[-3:])]:
    scope = nncf.IgnoredScope(names=ignored) if ignored else None
    q = nncf.quantize(core.read_model(path), nncf.Dataset(cal), subset_size=len(cal), ignored_scope=scope)
    c = core.compile_model(q, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1})
    outs = [decode(c, z) for z in held]
    mad = np.mean([np.abs(o - r).mean() for o, r in zip(outs, refs)])
    print(name, "hf", np.mean([hf(o) for o in outs]).round(2), "mean abs diff", mad.round(2), flush=True)
