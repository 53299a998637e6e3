"""Errors a user can act on: each message names the problem and the fix."""


class SdoptError(Exception):
    """Base class: anything sdopt raises on purpose."""


class UnknownName(SdoptError, KeyError):
    def __init__(self, kind: str, name: str, valid):
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(self.valid)}")

    def __str__(self):  # KeyError would repr() the message
        return self.args[0]


class ModelNotFound(SdoptError):
    pass


class BadArgument(SdoptError, ValueError):
    pass


class CorruptArtifact(SdoptError):
    pass
