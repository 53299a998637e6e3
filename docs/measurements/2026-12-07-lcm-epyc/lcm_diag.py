import json, torch
from pathlib import Path
import sdopt
from diffusers import UNet2DConditionModel, AutoencoderKL, PNDMScheduler, DDIMScheduler
from transformers import CLIPTextModel, CLIPTokenizer
from sdopt.consistency_distillation import HeldOut, student_from
from sdopt.methods.lcm import lcm_scheduler
from sdopt.schedulers import make
from sdopt.shapes import world
from sdopt.shapes.train_unet import Conditioning
base = sdopt.build("torch-fp32", "shapes", cache=sdopt.Cache("/tmp/lcmprobe-0.0001"))
t = UNet2DConditionModel.from_pretrained(base/"unet").eval()
c = Conditioning(AutoencoderKL.from_pretrained(base/"vae"), CLIPTextModel.from_pretrained(base/"text_encoder"), CLIPTokenizer.from_pretrained(base/"tokenizer"))
cfg = json.loads((base/"scheduler"/"scheduler_config.json").read_text())
prompts = [p for k in ("single","pair") for p in world.evaluation_prompts(k)]
caps, _ = world.sample(prompts, 16, seed=40000, distinct=True)
def ho(seed, steps=20, sched="pndm"):
    return HeldOut(t, c.text, list(caps), (4,16,16), 1.5, make(sched, PNDMScheduler.from_config(cfg)), lcm_scheduler(cfg), steps, 4, seed)
a = ho(1); b = ho(1, 50); d = ho(2); e = ho(1, 20, "ddim")
mse = lambda x, y: float(((x-y)**2).mean())
print("var", float(a.reference.var()), "20v50", mse(a.reference, b.reference), "pndm20 v ddim20", mse(a.reference, e.reference), "seed", mse(a.reference, d.reference))
s = student_from(t).eval()
print("student-at-init 4-step vs 20", a.loss(s))
a.student_steps = 8; print("8 step", a.loss(s))
