#!/usr/bin/env bash
# Clear the book's execution cache when anything a chapter's results depend on,
# other than the chapter's own code, has changed: the library, the shipped
# models and data manifests, the stored runs and evaluations (their JSON
# records hold their files' SHA-256), the pinned dependencies, the run mode.
# Usage: bash scripts/book_cache_key.sh [BUILD_DIR]   (Default: _build)
set -euo pipefail
build=${1:-_build}
key=$( { find percloss -name '*.py' -o -name 'manifest.json' | sort | xargs sha256sum;
         sha256sum data/clips/manifest.json data/codec/manifest.json data/heldout/manifest.json constraints.txt \
           pyproject.toml;
         find runs \( -name '*.json' -o -path 'runs/listening/*.csv' \) | sort | xargs sha256sum;
         echo "mode=${PERCLOSS_MODE:-standard}"; } | sha256sum | cut -c1-16)
mkdir -p "$build"
if [ "$(cat "$build/.percloss_cache_key" 2>/dev/null)" != "$key" ]; then
  [ -d "$build/.jupyter_cache" ] && echo "library, data, dependencies or mode changed: clearing $build/.jupyter_cache"
  rm -rf "$build/.jupyter_cache"
  echo "$key" > "$build/.percloss_cache_key"
fi
