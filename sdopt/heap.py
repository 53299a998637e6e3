"""Full garbage collections that skip what the deep-learning stack made at import.

optimum's exporter collects after every component it converts and the suites collect after releasing a loaded
pipeline (cycles through optimum's parts keep GBs alive otherwise). Each full collection walks every live object,
and torch, diffusers and transformers leave hundreds of thousands at import that live as long as the process,
so each of those collections costs a fraction of a second. Freezing them (gc.freeze) takes them out of every
later collection; nothing they reference is garbage, so nothing is kept that would have been freed.
"""
import gc


def freeze_what_is_loaded() -> None:
    """Collect once (garbage made so far is freed, not frozen), then exempt every surviving object from later
    collections. Call it after the imports and before anything large is loaded: a frozen pipeline would never
    be freed by a collection. Once per process: a later call (a suite run inside a test session) could come
    after a pipeline was loaded."""
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
