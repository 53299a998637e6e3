"""A variant's name, `ov-deepcache-int8-ptq[todo_factor=2,vae_decoder=int8]`: the one place such a name is read or
written. Everything else passes `VariantSpec` objects (or the text this module formatted, as test ids and record
columns carry it) and asks for a changed copy instead of editing text.

A name is a registered variant and options in one trailing bracket; values are typed as int, float, bool, None
(`none` or `auto`) or text. Options keep the order they were given in (`format`), so that a user's spelling stays
a test id; `canonical` sorts them and leaves out options that change how a build runs, not what it makes.
"""
from dataclasses import dataclass

from .errors import BadArgument


@dataclass(frozen=True)
class VariantSpec:
    base: str
    options: tuple = ()  # ((key, value), ...) in the order given

    @classmethod
    def parse(cls, text: "str | VariantSpec") -> "VariantSpec":
        if isinstance(text, VariantSpec):
            return text
        text = text.strip()
        if "[" not in text:
            if "]" in text:
                raise BadArgument(f"variant {text!r}: a ']' with no '['; options go in one trailing bracket, "
                                  f"e.g. ov-int8-qat[steps=200]")
            return cls(text)
        base, _, rest = text.partition("[")
        if not rest.endswith("]") or "[" in rest[:-1] or "]" in rest[:-1]:
            raise BadArgument(f"variant {text!r}: options go in one trailing bracket, e.g. ov-int8-qat[steps=200]")
        options = {}
        for item in filter(None, (part.strip() for part in rest[:-1].split(","))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise BadArgument(f"variant {text!r}: option {item!r} is not key=value")
            options[key.strip()] = _typed(value.strip())
        return cls(base.strip(), tuple(options.items()))

    @classmethod
    def of(cls, base: str, options: dict | None = None) -> "VariantSpec":
        return cls(base, tuple((options or {}).items()))

    @property
    def option_dict(self) -> dict:
        return dict(self.options)

    def format(self) -> str:
        """The name with its options in the order given."""
        return _written(self.base, self.options)

    def canonical(self, leave_out: tuple = ()) -> str:
        """The name a recipe carries: options sorted, those in `leave_out` dropped."""
        return _written(self.base, sorted((k, v) for k, v in self.options if k not in leave_out))

    def with_option(self, key: str, value) -> "VariantSpec":
        """This spec with `key` set to `value` (in place if given, else appended)."""
        options = self.option_dict
        options[key] = value
        return VariantSpec(self.base, tuple(options.items()))

    def without(self, key: str) -> "VariantSpec":
        return VariantSpec(self.base, tuple((k, v) for k, v in self.options if k != key))

    def __str__(self) -> str:
        return self.format()


def _written(base: str, options) -> str:
    for key, value in options:
        text = str(value)
        if any(char in text for char in ",[]"):
            raise BadArgument(f"option {key}={text!r} of {base}: a value in a variant name cannot hold ',', '[' or "
                              f"']' (a file goes to its command's own argument, not into the name)")
    label = ",".join(f"{key}={value}" for key, value in options)
    return f"{base}[{label}]" if label else base


def _typed(value: str):
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "auto"):
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def split(value: str) -> tuple[str, ...]:
    """A comma-separated list of variant names, leaving commas inside brackets alone: each name as written."""
    names, depth, current = [], 0, ""
    for char in value:
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            names.append(current)
            current = ""
        else:
            current += char
    names.append(current)
    return tuple(s.strip() for s in names if s.strip())
