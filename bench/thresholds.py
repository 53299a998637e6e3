"""Per-metric regression limits for `bench compare`, read from a TOML file (default: bench/thresholds.toml)."""
import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT = Path(__file__).with_name("thresholds.toml")


@dataclass(frozen=True)
class Limit:
    better: str  # "lower" or "higher"
    relative: float | None = None
    absolute: float | None = None

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
        return " and ".join(p for p in parts if p) + f" ({self.better} is better)"


@dataclass(frozen=True)
class Thresholds:
    rules: tuple  # ((glob pattern, Limit), ...) in file order
    alpha: float = 0.01
    min_samples: int = 5

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
    unknown = set(config) - {"noise", "metrics"}
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)} (expected [noise] and [metrics.\"pattern\"])")
    rules = []
    for pattern, spec in config.get("metrics", {}).items():
        where = f"{path}: [metrics.{pattern!r}]"
        extra = set(spec) - {"better", "relative", "absolute"}
        if extra:
            raise ValueError(f"{where} has unknown keys {sorted(extra)}")
        if spec.get("better") not in ("lower", "higher"):
            raise ValueError(f"{where} needs better = \"lower\" or \"higher\", got {spec.get('better')!r}")
        if "relative" not in spec and "absolute" not in spec:
            raise ValueError(f"{where} needs a relative and/or absolute limit")
        for key in ("relative", "absolute"):
            if key in spec and not (isinstance(spec[key], (int, float)) and spec[key] >= 0):
                raise ValueError(f"{where}: {key} must be a number >= 0, got {spec[key]!r}")
        rules.append((pattern, Limit(spec["better"], spec.get("relative"), spec.get("absolute"))))
    noise = config.get("noise", {})
    alpha, min_samples = noise.get("alpha", 0.01), noise.get("min_samples", 5)
    if not 0 < alpha < 1 or not isinstance(min_samples, int) or min_samples < 2:
        raise ValueError(f"{path}: [noise] needs 0 < alpha < 1 and an integer min_samples >= 2")
    return Thresholds(tuple(rules), alpha, min_samples)
