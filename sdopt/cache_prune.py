"""Which cache entries `sdopt cache prune` deletes: unused for a while, or made by other library versions
(whose keys a build here can never ask for again), plus leftovers of interrupted builds; never an entry that a
kept entry was made from. An entry whose base was deleted by hand stays reachable (a rebuilt base gets the same
name, so the entry's key comes out the same) and is judged like any other."""
import time

from .cache import Entry
from .errors import BadArgument


def prunable(entries: list[Entry], unused_days: float | None = None, versions: dict | None = None,
             now: float | None = None) -> list[Entry]:
    """The entries to delete. versions: the installed library versions (None: do not judge by versions)."""
    if unused_days is None and versions is None:
        raise BadArgument("say what to prune: --unused-days N and/or --stale")
    if unused_days is not None and unused_days < 0:
        raise BadArgument(f"--unused-days must be 0 or more, got {unused_days}")
    now = time.time() if now is None else now

    def judged(e: Entry) -> bool:
        if e.kind == "tmp":  # a build that died
            return True
        if unused_days is not None and now - e.last_used > unused_days * 86400:
            return True
        return versions is not None and "versions" in e.material and e.material["versions"] != versions

    doomed = {e.folder for e in entries if judged(e)}
    while True:  # spare what a kept entry was made from, and what that was made from in turn
        needed = set().union(*(e.needs for e in entries if e.folder not in doomed))
        spared = {e.folder for e in entries if e.folder in doomed and e.folder.name in needed}
        if not spared:
            return [e for e in entries if e.folder in doomed]
        doomed -= spared
