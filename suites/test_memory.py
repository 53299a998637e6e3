"""Peak resident memory of load + one generation, each variant in a fresh process, at the first step count and
scheduler the variant runs at."""
from bench.probes.memory import peak_rss


def test_peak_memory(first_case, settings, artifact_for, runner_for, record):
    runner_for.release()  # the probe's process alone holds a variant, as a user's would
    height, width = settings.resolution
    variant, steps, scheduler = first_case.variant, first_case.steps, first_case.scheduler
    peak = peak_rss(artifact_for(variant), settings.prompts[0], steps, scheduler, settings.seed, height, width,
                    settings.threads, settings.guidance)
    record(variant, steps, scheduler, "peak_rss", peak["maxrss_mib"])
    record(variant, steps, scheduler, "peak_rss_sampled", peak["sampled_mib"])
    # What the resident set is made of at the end: private memory, and file pages (mapped weights) the kernel may
    # reclaim.
    record(variant, steps, scheduler, "rss_private_end", peak["anon_end_mib"])
    record(variant, steps, scheduler, "rss_file_end", peak["file_end_mib"])
    record(variant, steps, scheduler, "rss_imports", peak["imports_mib"])
    # ... and at their own peaks: a weight copy made at compile or first inference shows in the private peak
    record(variant, steps, scheduler, "rss_private_peak", peak["anon_peak_mib"])
    record(variant, steps, scheduler, "rss_file_peak", peak["file_peak_mib"])
    # The sampler sees the same process from outside: it cannot exceed the kernel's high-water mark by more
    # than the monitor's own rounding, and a probe that measured nothing would read near zero.
    assert 50 < peak["sampled_mib"] <= peak["maxrss_mib"] * 1.05 + 16, peak
    assert 0 < peak["anon_end_mib"] + peak["file_end_mib"] <= peak["maxrss_mib"] + 1, peak
    assert 0 < peak["imports_mib"] <= peak["maxrss_mib"], peak
    # each part's peak is at most the total's (a part is never more than the whole at any moment), and the two
    # together reach at least the total the sampler saw (at its moment each part was at most its peak)
    for part in ("anon", "file"):
        assert peak[f"{part}_end_mib"] - 1 <= peak[f"{part}_peak_mib"] <= peak["maxrss_mib"] + 1, peak
    assert peak["anon_peak_mib"] + peak["file_peak_mib"] >= peak["sampled_mib"] * 0.95 - 16, peak
