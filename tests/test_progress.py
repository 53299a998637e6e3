"""Progress outside a terminal stays short, and library notices sdopt has no use for are dropped at their logger."""
import logging

from sdopt import progress


def test_a_loop_logs_a_line_per_quarter_outside_a_terminal(monkeypatch):
    monkeypatch.setenv("SDOPT_PROGRESS", "off")
    lines = []
    previous = progress.set_sink(lines.append)
    try:
        with progress.bar("QAT steps", 400) as shown:
            for step in range(1, 401):
                shown(step, "loss 0.1")
    finally:
        progress.set_sink(previous)
    assert [line.split(" (")[0] for line in lines] == [f"[sdopt] QAT steps {n}/400" for n in (100, 200, 300, 400)]


def test_sdopt_progress_forces_the_display_either_way_even_in_ci(monkeypatch):
    """CI runners set CI=true; a forced setting must still win, or the display's own tests see no frames there."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("SDOPT_PROGRESS", "on")
    assert progress.interactive()
    monkeypatch.setenv("SDOPT_PROGRESS", "off")
    assert not progress.interactive()
    monkeypatch.delenv("SDOPT_PROGRESS")
    assert not progress.interactive()  # CI without a forced setting: lines, not bars


def test_the_optimum_and_torchvision_notices_are_dropped_and_nothing_else():
    import sdopt  # noqa: F401  (installs the filters)

    class Kept(logging.Handler):  # on the loggers themselves: diffusers' do not propagate to the root
        def __init__(self):
            super().__init__()
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())
    kept = Kept()
    loggers = [logging.getLogger(name) for name in ("diffusers.utils.import_utils", "transformers.utils.import_utils")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:  # other tests quiet these libraries (the CLI sets them to ERROR): let warnings through
        logger.addHandler(kept)
        logger.setLevel(logging.WARNING)
    try:
        loggers[0].warning("Multiple distributions found for package optimum. Picked distribution: optimum-intel")
        loggers[1].warning("`CLIPImageProcessor` requires torchvision (not installed); falling back to `...Pil`")
        loggers[0].warning("Multiple distributions found for package foo.")
    finally:
        for logger, level in zip(loggers, levels):
            logger.removeHandler(kept)
            logger.setLevel(level)
    assert kept.messages == ["Multiple distributions found for package foo."]
