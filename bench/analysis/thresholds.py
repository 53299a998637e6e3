"""Per-metric regression limits for `bench compare`: each metric's default limit and direction are its row in
bench/metrics.py; a TOML file (default: bench/analysis/thresholds.toml) sets the noise test and the quality rule,
and its [metrics."pattern"] sections, when it has any, replace the default limits."""
import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .. import metrics
from .verdict import QualityRule

DEFAULT = Path(__file__).with_name("thresholds.toml")


@dataclass(frozen=True)
class Limit:
    better: str  # "lower" or "higher"
    relative: float | None = None
    absolute: float | None = None
    # also required: the current value lies outside the baseline's own 95% interval (its `<metric>_low` and
    # `<metric>_high` records), for rates whose sampling error is known (prompt adherence)
    outside_interval: bool = False

    def exceeded_by(self, baseline: float, current: float) -> bool:
        """True when `current` is worse than `baseline` by more than every limit given."""
        worse = current - baseline if self.better == "lower" else baseline - current
        if worse <= 0:
            return False
        if self.relative is not None and worse <= self.relative * abs(baseline):
            return False
        return self.absolute is None or worse > self.absolute

    def describe(self) -> str:
        parts = [f"{self.relative:.0%}" if self.relative is not None else None,
                 f"{self.absolute:g}" if self.absolute is not None else None]
        parts.append("outside the baseline's interval" if self.outside_interval else None)
        return " and ".join(p for p in parts if p) + f" ({self.better} is better)"


CORRECTIONS = ("bh", "holm")
NOISE_KEYS = {"alpha", "min_rounds", "correction"}
QUALITY_KEYS = {"alpha", "adherence_points", "fid_factor", "fid_edge"}


@dataclass(frozen=True)
class Thresholds:
    rules: tuple  # ((glob pattern, Limit), ...) in file order
    alpha: float = 0.01
    min_rounds: int = 5  # replicates a side below which a timing gets no verdict
    correction: str = "bh"  # for testing many metrics at once: Benjamini-Hochberg or Holm
    quality: QualityRule = QualityRule()  # whether a variant holds quality (bench/analysis/verdict.py)

    def limit_for(self, metric: str) -> Limit | None:
        return next((limit for pattern, limit in self.rules if fnmatch.fnmatchcase(metric, pattern)), None)


def load_thresholds(path=None) -> Thresholds:
    path = Path(path) if path else DEFAULT
    try:
        config = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"thresholds file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    unknown = set(config) - {"noise", "metrics", "quality"}
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)} (expected [noise], [quality] and "
                         f"[metrics.\"pattern\"])")
    rules = [] if "metrics" in config else default_rules()
    for pattern, spec in config.get("metrics", {}).items():
        where = f"{path}: [metrics.{pattern!r}]"
        extra = set(spec) - {"better", "relative", "absolute", "outside_interval"}
        if extra:
            raise ValueError(f"{where} has unknown keys {sorted(extra)}")
        known = _direction(pattern)
        spec = {"better": known} | spec if known else spec  # the metric's own direction unless the file says one
        if spec.get("better") not in ("lower", "higher"):
            raise ValueError(f"{where} needs better = \"lower\" or \"higher\", got {spec.get('better')!r}")
        if known and spec["better"] != known:
            raise ValueError(f"{where}: better = {spec['better']!r}, but {pattern} is better {known} "
                             f"(bench/metrics.py)")
        if "relative" not in spec and "absolute" not in spec:
            raise ValueError(f"{where} needs a relative and/or absolute limit")
        for key in ("relative", "absolute"):
            if key in spec and not (isinstance(spec[key], (int, float)) and spec[key] >= 0):
                raise ValueError(f"{where}: {key} must be a number >= 0, got {spec[key]!r}")
        if not isinstance(spec.get("outside_interval", False), bool):
            raise ValueError(f"{where}: outside_interval must be true or false")
        rules.append((pattern, Limit(spec["better"], spec.get("relative"), spec.get("absolute"),
                                     spec.get("outside_interval", False))))
    noise = config.get("noise", {})
    if set(noise) - NOISE_KEYS:
        raise ValueError(f"{path}: [noise] has unknown keys {sorted(set(noise) - NOISE_KEYS)} (known: "
                         f"{sorted(NOISE_KEYS)}; min_samples became min_rounds: rounds are the replicates)")
    alpha, min_rounds = noise.get("alpha", 0.01), noise.get("min_rounds", 5)
    correction = noise.get("correction", "bh")
    if not 0 < alpha < 1 or not isinstance(min_rounds, int) or min_rounds < 2 or correction not in CORRECTIONS:
        raise ValueError(f"{path}: [noise] needs 0 < alpha < 1, an integer min_rounds >= 2 and correction one of "
                         f"{', '.join(CORRECTIONS)}")
    return Thresholds(tuple(rules), alpha, min_rounds, correction, _quality_rule(path, config.get("quality", {})))


def default_rules() -> list:
    """(pattern, Limit) of every metric row with a default limit, in the table's order (exact names first)."""
    return [(spec.name, Limit(spec.better, spec.limit.relative, spec.limit.absolute, spec.limit.outside_interval))
            for spec in metrics.METRICS if spec.limit is not None]


def _direction(pattern: str) -> str | None:
    try:
        return metrics.spec_of(pattern).better
    except KeyError:
        return None


def _quality_rule(path: Path, spec: dict) -> QualityRule:
    if set(spec) - QUALITY_KEYS:
        raise ValueError(f"{path}: [quality] has unknown keys {sorted(set(spec) - QUALITY_KEYS)} (known: "
                         f"{sorted(QUALITY_KEYS)})")
    rule = QualityRule(**spec)
    if not (0 < rule.alpha < 1 and rule.adherence_points >= 0 and rule.fid_factor >= 1 and 0 <= rule.fid_edge < 1):
        raise ValueError(f"{path}: [quality] needs 0 < alpha < 1, adherence_points >= 0, fid_factor >= 1 and "
                         f"0 <= fid_edge < 1")
    return rule
