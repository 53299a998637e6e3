import time, os, sdopt, sys
sys.path.insert(0, "tests")
from explicit_recipes import CONV_ONLY_PTQ
c = sdopt.Cache("/tmp/cold-cache")
for n in (*sdopt.REGISTRY, CONV_ONLY_PTQ):
    t = time.perf_counter()
    sdopt.build(n, "tiny", cache=c)
    print(f"{n if isinstance(n,str) else 'conv-only'} {time.perf_counter()-t:.1f}s", flush=True)
