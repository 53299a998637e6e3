#!/usr/bin/env bash
# bench compare on real runs: an A/A comparison (the same suite twice, fresh processes) must raise no alarm,
# and a 15% slower UNet injected into one variant must be caught.
# Usage: run.sh OUT MODEL-NAME [suite options...]; SDOPT_CACHE names the variant cache.
set -euo pipefail
out=${1:?output folder}; name=${2:?a name for this model setting}; shift 2
root=$(cd "$(dirname "$0")/../../.." && pwd)
py=$root/.venv/bin/python
mkdir -p "$out/$name"
suite() {  # suite RUN-NAME [env...]
    local run=$1; shift
    env "$@" PYTHONPATH="$root/tests/plugins" HF_HUB_OFFLINE=1 "$py" -m pytest "$root/suites/test_latency.py" \
        -p fault_injection -q --results-dir "$out/$name/$run" --benchmark-json "$out/$name/$run.json" "${args[@]}" \
        > "$out/$name/$run.log" 2>&1
}
args=("$@")
suite a
suite b
suite slowed SDOPT_INJECT_SLOWDOWN=ov-fp32=0.15 SDOPT_INJECT_LOG="$out/$name/injected.log"
"$py" -m bench compare "$out/$name/a/latest" "$out/$name/b/latest" --markdown "$out/$name/a-vs-b.md" > /dev/null || true
"$py" -m bench compare "$out/$name/a/latest" "$out/$name/slowed/latest" --markdown "$out/$name/a-vs-slowed.md" > /dev/null || true
echo "$name: A/A $(head -1 "$out/$name/a-vs-b.md"); injected $(head -1 "$out/$name/a-vs-slowed.md")"
