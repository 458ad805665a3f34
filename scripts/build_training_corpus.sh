#!/usr/bin/env bash
# Build the codec's broad training corpus (data/corpus/audio, about 1 GB, not shipped; data/corpus/manifest.json
# is shipped and the build reproduces its SHA-256) from Debian packages (about 0.5 GB of packages).
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
"$py" "$here/scripts/build_training_corpus.py" --work "$work" --audio "$here/data/corpus/audio" --out "$here/data/corpus"
