import sys, time, json
from dataclasses import replace
import sdopt
from sdopt.methods import lcm
from sdopt.consistency_distillation import Distillation
steps, lr, warm = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
orig = lcm.distillation_settings
lcm.distillation_settings = lambda ctx: replace(orig(ctx), learning_rate=lr, warmup=warm, validate_every=25)
t = time.time()
f = sdopt.build(f"torch-lcm[lcm_train_steps={steps}]", "shapes", cache=sdopt.Cache(f"/tmp/lcmprobe-{lr}"))
print("secs", time.time() - t)
for line in (f / "distillation_log.jsonl").read_text().splitlines():
    r = json.loads(line)
    if r["validation_loss"] is not None: print(r["step"], r["validation_loss"], r["seconds"])
