# make bench:      set up .venv (first use only), then answer the reference's question on the shipped shapes model:
#                  its four variants and the fastest one that holds quality; latency, memory, footprint, quality.
# make bench-full: every variant, all 301 held-out prompts, the UNet-error replay and per-layer profiles.
# make test:       set up .venv, then run the project's tests and an end-to-end smoke run of the suites.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
# glibc reads this at process start: a fixed mmap threshold keeps torch's speed from depending on what ran
# before it in the process (see bench/probes/env.py).
export MALLOC_MMAP_THRESHOLD_ ?= 33554432
# The variant cache every entry point uses by default (sdopt/cache.py): the tests share it too, so the smoke run
# after them, a later `make bench` and `sdopt generate` reuse what they built.
SDOPT_CACHE ?= $(HOME)/.cache/sdopt
export SDOPT_CACHE
export SDOPT_TEST_CACHE ?= $(SDOPT_CACHE)
PYTEST_ARGS ?=
# The trained model is where quality numbers mean something; tiny stays the suites' own default for the tests.
# The default answers in minutes: the seed's four variants (PyTorch FP32, OpenVINO FP32, 8-bit QAT, ToMe + 8-bit
# QAT) and ov-deepcache-int8-ptq, the fastest variant that runs on every CPU kind here and sits at the quality
# rule's edge on shapes (holds on AMX, fails by one prompt on AVX-512 VNNI: docs/results.md; the faster 4-step
# student needs 20 minutes of distillation and bf16, so it is left to named runs); quality on the first BENCH_PROMPTS of the 301 held-out prompts, all one-object ones (the
# verdict's sample; its 95% interval is printed with it); the UNet-error replay, which no verdict uses, is left
# to bench-full. BENCH_ARGS replaces all of it.
BENCH_VARIANTS ?= torch-fp32,ov-fp32,ov-int8-qat,ov-tome-int8-qat,ov-deepcache-int8-ptq
BENCH_PROMPTS ?= 100
# Another model named in PYTEST_ARGS (`make bench PYTEST_ARGS="--model tiny-sdxl"`): every variant that applies
# to it, each OpenVINO one on both runtimes, at its own scheduler and guidance; what its family cannot build is
# listed as not run with the reason.
ifneq ($(filter --model --model=%,$(PYTEST_ARGS)),)
BENCH_ARGS ?= --rounds 5 --interleave --variants all --runtimes openvino,genai -k "not unet_prediction_error"
BENCH_SAYS ?= make bench: every variant that applies to the model in PYTEST_ARGS, on both OpenVINO runtimes.
BENCH_TAKES ?= Minutes on a tiny model; sdxl-arch 512 at --steps 2 --rounds 2: 1 h 39 min on 2 cores, builds included (docs/results.md).
endif
BENCH_TAKES ?=   Measured: 11-14 min on 2 cores from a fresh clone with an empty variant cache (docs/results.md); make bench-full runs everything.
BENCH_SAYS ?= make bench: $(BENCH_VARIANTS) on the shapes model, 20 steps; quality on $(BENCH_PROMPTS) prompts.
BENCH_ARGS ?= --model shapes --steps 20 --rounds 5 --interleave --variants $(BENCH_VARIANTS) \
	--quality-prompts $(BENCH_PROMPTS) -k "not unet_prediction_error"
FULL_ARGS ?= --model shapes --steps 20 --rounds 5 --interleave --profile

.PHONY: setup bench bench-full test smoke clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/lock.txt scripts/install-env
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	scripts/install-env $(PY)
	touch $@

# The time it takes: docs/results.md, "What make bench costs".
bench: setup
	mkdir -p results
	@echo "$(BENCH_SAYS)"
	@echo "$(BENCH_TAKES)"
	$(PY) -m pytest suites/ --benchmark-json results/benchmark.json $(BENCH_ARGS) $(PYTEST_ARGS)

bench-full: setup
	mkdir -p results
	@echo "make bench-full: every variant on the shapes model, 20 steps, all 301 held-out prompts: hours on 2 cores (projected)."
	$(PY) -m pytest suites/ --benchmark-json results/benchmark.json $(FULL_ARGS) $(PYTEST_ARGS)

# --durations: CI's log then says where the suite's time went, against its ~15-minute budget.
test: setup
	$(PY) -m pytest tests/ --durations=15 $(PYTEST_ARGS)
	$(MAKE) smoke

# The suites end to end on the tiny model, small enough for CI: the reference's four variants (PyTorch FP32,
# OpenVINO FP32, 8-bit, ToMe + 8-bit), every suite, and OpenVINO FP32 on OpenVINO GenAI too. The tests open, time
# and measure every other variant, int8 ones on GenAI included (tests/test_genai.py); the tox ov-* envs run
# every OpenVINO variant on both runtimes. Peak memory is probed for one variant per runtime (torch-fp32, ov-fp32
# on each OpenVINO runtime); the int8 ones' probes are left to the tox ov-* envs and make bench: each is a fresh
# process (12 s, mostly imports) running the same pipeline as ov-fp32's. A step-distilled student runs every
# suite too: it answers each request in its own steps, which every suite must take as such.
SMOKE_VARIANTS ?= torch-fp32,ov-fp32,ov-int8-qat,ov-tome-int8-qat,ov-fp32[runtime=genai],ov-lcm-int8-ptq
smoke: setup
	mkdir -p results/smoke
	$(PY) -m pytest suites/ --variants "$(SMOKE_VARIANTS)" --steps 2 --rounds 2 \
	    -k "not (test_peak_memory and qat)" \
	    --results-dir results/smoke --benchmark-json results/smoke/benchmark.json

clean:
	rm -rf $(VENV) results/smoke   # the variant cache stays: `sdopt cache prune` empties it
