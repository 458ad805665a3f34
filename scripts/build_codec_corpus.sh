#!/usr/bin/env bash
# Rebuild data/codec/ (the codec chapter's music corpus) from Debian's Fret's on Fire song packs.
# Pass --full data/codec_corpus to also write the whole songs (for full mode; not shipped).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends fretsonfire-songs-sectoid fretsonfire-songs-muldjord >/dev/null
py="$here/.venv/bin/python"
[ -x "$py" ] || py=python3
cd "$here"
"$py" scripts/build_codec_corpus.py --out data/codec "$@"
