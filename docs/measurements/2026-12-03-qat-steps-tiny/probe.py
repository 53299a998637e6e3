import sys, time, os
os.environ["HF_HUB_OFFLINE"]="1"
import sdopt
from bench.probes.quality import prediction_error
from sdopt.backends import capture_unet_inputs, open_variant
from sdopt.prompts import EVALUATION_PROMPTS
cache = sdopt.Cache("/tmp/dur-cache")
ref = open_variant(sdopt.build("torch-fp32","tiny",cache=cache))
with capture_unet_inputs(ref, outputs=True) as calls:
    for seed, prompt in enumerate(EVALUATION_PROMPTS[:4]):
        ref.generate(prompt, 4, "euler", seed, 128, 128)
def err(folder):
    v = open_variant(folder)
    return prediction_error([c["output"] for c in calls], [v.predict_noise(c) for c in calls])
print("ptq", err(sdopt.build("ov-int8-ptq","tiny",cache=cache)), flush=True)
for spec in sys.argv[1:]:
    t=time.time(); f=sdopt.build(spec,"tiny",cache=cache); print(spec, round(time.time()-t,1), "s", err(f), flush=True)
