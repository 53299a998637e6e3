#!/usr/bin/env bash
# Import time of what every sdopt process loads, with the venv's installed bytecode against none (an empty
# PYTHONPYCACHEPREFIX makes Python look for bytecode there only, and PYTHONDONTWRITEBYTECODE=1 keeps it empty):
# interleaved rounds in one run. Usage: imports.sh PYTHON ROUNDS
set -euo pipefail
python=${1:-.venv/bin/python}; rounds=${2:-3}
export PYTHONDONTWRITEBYTECODE=1
empty=$(mktemp -d)
echo "round,bytecode,seconds"
for r in $(seq 1 "$rounds"); do
    for mode in installed none; do
        if [[ $mode == none ]]; then prefix=(env PYTHONPYCACHEPREFIX="$empty"); else prefix=(env); fi
        /usr/bin/time -o "$empty.t" -f "%e" "${prefix[@]}" "$python" -c "import sdopt, optimum.intel.openvino, diffusers, nncf" >/dev/null 2>&1
        echo "$r,$mode,$(cat "$empty.t")"
    done
done
rm -rf "$empty" "$empty.t"
