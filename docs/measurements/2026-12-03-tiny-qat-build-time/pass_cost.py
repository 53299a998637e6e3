import time, torch, json, sdopt
from pathlib import Path
from diffusers import UNet2DConditionModel
from sdopt.recipes import REGISTRY
from sdopt.inputs import calibration_samples
from sdopt.qat import quantize_for_training
c = sdopt.Cache("/tmp/cold-cache")
base = sdopt.build("ov-fp32", "tiny", cache=c)
tf = sdopt.build("torch-fp32", "tiny", cache=c)
unet = UNet2DConditionModel.from_pretrained(Path(tf)/"unet")
print("params", sum(p.numel() for p in unet.parameters())/1e6, "M")
recipe = REGISTRY["ov-int8-qat"].resolved()
from sdopt.build import for_source
import inspect
print(inspect.signature(calibration_samples))
from sdopt.build import base_spec
size=(128,128)
cal = calibration_samples(Path(base), recipe, size, c)
t=time.perf_counter(); student = quantize_for_training(UNet2DConditionModel.from_pretrained(Path(tf)/"unet"), cal, recipe); print("quantize", time.perf_counter()-t)
teacher = unet.eval().requires_grad_(False)
torch.manual_seed(0)
for bs in (1,4):
    x = torch.randn(bs,4,16,16); ts = torch.randint(1000,(bs,)); e = torch.randn(bs,*cal[0]["encoder_hidden_states"].shape[1:])
    for name, fn in [("teacher fwd", lambda: teacher(x,ts,e,return_dict=False)[0]),
                     ("student fwd", lambda: student(x,ts,e)),
                     ("student fwd+bwd", lambda: student(x,ts,e).square().mean().backward())]:
        for _ in range(2): fn()
        t=time.perf_counter()
        for _ in range(5): fn()
        print(bs, name, (time.perf_counter()-t)/5)
print(torch.get_num_threads())
import openvino as ov, cProfile, pstats
from sdopt.export import convert_unet
t=time.perf_counter()
cProfile.run('convert_unet(student, Path(base)/"unet"/"openvino_model.xml", Path("/tmp/exp-test/openvino_model.xml"), int8_weights=True)', "/tmp/conv.prof")
print("export", time.perf_counter()-t)
pstats.Stats("/tmp/conv.prof").sort_stats("cumulative").print_stats(35)
