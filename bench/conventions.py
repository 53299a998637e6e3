"""What probes and analysis agree on without importing each other: the reference variant every ratio and
fidelity is taken against, and the fewest images FID/KID mean anything with.

The reference is sdopt's baseline recipe, named here rather than imported: importing sdopt loads diffusers
(seconds), which `bench compare`, `bench report` and the nightly scripts never need. tests/test_imports.py
checks that the two names agree."""
REFERENCE = "torch-fp32"

MIN_FID_SAMPLES = 50  # below this FID/KID are mostly noise: reported, with a warning, only to rank one run's variants
