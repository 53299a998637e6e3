"""What probes and analysis agree on without importing each other: the reference variant every ratio and
fidelity is taken against, and the fewest images FID/KID mean anything with."""
from sdopt.recipes import BASELINE as REFERENCE  # noqa: F401

MIN_FID_SAMPLES = 50  # below this FID/KID are mostly noise: reported, with a warning, only to rank one run's variants
