"""Warnings from the libraries beneath sdopt that say nothing to its users, dropped where they are raised.

Each entry is one logger and a phrase of one message, with why it is noise here; every other message of the
same logger still shows.
"""
import logging

BENIGN = {
    # diffusers maps each importable package to the distributions holding its files. optimum-intel installs its
    # modules inside the `optimum` namespace package, so `optimum` maps to both and diffusers warns on every import.
    "diffusers.utils.import_utils": "Multiple distributions found for package optimum.",
    # The project leaves torchvision out on purpose (PyPI's build breaks beside the local torch, docs/install.md);
    # transformers then falls back to the PIL image processors, which is what sdopt wants.
    "transformers.utils.import_utils": "requires torchvision (not installed)",
}


class _DropBenign(logging.Filter):
    def __init__(self, phrase: str):
        super().__init__()
        self.phrase = phrase

    def filter(self, record: logging.LogRecord) -> bool:
        return self.phrase not in str(record.msg)


def silence() -> None:
    """Idempotent: the filters sit on the libraries' own loggers before the libraries are first imported."""
    for name, phrase in BENIGN.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropBenign) for f in logger.filters):
            logger.addFilter(_DropBenign(phrase))
