#!/usr/bin/env bash
# Rebuild data/clips/ from Debian and PyPI packages (about a minute, ~0.5 GB of packages).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ffmpeg fluidsynth fluid-soundfont-gm \
    fretsonfire-songs-sectoid asterisk-moh-opsound-g722 hydrogen hydrogen-data >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/m21"
"$work/m21/bin/pip" install -q music21==10.5.1
py="$here/.venv/bin/python"
[ -x "$py" ] || py=python3
"$py" "$here/scripts/build_clips.py" --work "$work" --music21-python "$work/m21/bin/python" --out "$here/data/clips"
