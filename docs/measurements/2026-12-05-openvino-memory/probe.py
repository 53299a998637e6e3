"""Where an OpenVINO FP32 pipeline's resident memory comes from, at sd15-arch 512x512.

    python probe.py MODE ARTIFACT     (MODE: default | drop-model | no-mmap)

One fresh process per mode: load the artifact with optimum-intel, compile text encoder, UNet and VAE decoder,
print the high-water mark and the resident set split into private (anonymous) and file pages; generate one
image (2 Euler steps, guidance 7.5) and print them again. drop-model: each component's ov.Model is dropped right
after its compile (the compiled model replaces it), the lever the issue names; no-mmap: the IR's weights are read
into memory instead of mapped (ENABLE_MMAP off).
"""
import sys
import time
from pathlib import Path

mode, artifact = sys.argv[1], sys.argv[2]
PARTS = ("text_encoder", "unet", "vae_decoder")


def memory(stage: str) -> None:
    status = {k: v.split()[0] for k, _, v in (line.partition(":") for line in
                                                Path("/proc/self/status").read_text().splitlines()) if v.strip()}
    mib = {key: int(status[key]) // 1024 for key in ("VmHWM", "VmRSS", "RssAnon", "RssFile")}
    print(f"{mode:10} {stage:20} peak {mib['VmHWM']:6} MiB  resident {mib['VmRSS']:6} = private {mib['RssAnon']:6}"
          f" + file {mib['RssFile']:6}", flush=True)


from optimum.intel import OVStableDiffusionPipeline  # noqa: E402

from sdopt.backends.openvino_backend import ov_config  # noqa: E402

if mode == "no-mmap":
    from optimum.intel.openvino import modeling_base
    modeling_base.core.set_property({"ENABLE_MMAP": False})
started = time.perf_counter()
pipe = OVStableDiffusionPipeline.from_pretrained(artifact, export=False, compile=False, ov_config=ov_config(2))
for name in PARTS:
    part = getattr(pipe, name)
    part.compile()
    if mode == "drop-model":
        part.model = part.request
memory(f"compiled ({time.perf_counter() - started:.0f} s)")
pipe.set_progress_bar_config(disable=True)
pipe("a red circle", num_inference_steps=2, guidance_scale=7.5, height=512, width=512)
memory("after one image")
