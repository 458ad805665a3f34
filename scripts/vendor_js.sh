#!/usr/bin/env bash
# Rebuild book/static/vendor/ from the npm registry (pinned versions), so the
# built site serves its widget and math JavaScript itself and loads nothing from a CDN.
#   @jupyter-widgets/html-manager (BSD-3-Clause), requirejs (MIT), mathjax (Apache-2.0)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts \
    @jupyter-widgets/html-manager@1.0.15 requirejs@2.3.8 mathjax@3.2.2 >/dev/null
out="$here/book/static/vendor"
rm -rf "$out"
mkdir -p "$out/widgets" "$out/requirejs" "$out/mathjax/output/chtml/fonts"
dist=node_modules/@jupyter-widgets/html-manager/dist
cp "$dist/embed-amd.js" "$out/widgets/"
find "$dist" -maxdepth 1 -type f \( -name '*.woff*' -o -name '*.ttf' -o -name '*.eot' -o -name '*.svg' \) -exec cp {} "$out/widgets/" \;
cp node_modules/@jupyter-widgets/html-manager/LICENSE "$out/widgets/LICENSE" 2>/dev/null || true
cp node_modules/requirejs/require.js "$out/requirejs/"
cp node_modules/requirejs/LICENSE "$out/requirejs/LICENSE" 2>/dev/null || true
cp node_modules/mathjax/es5/tex-chtml.js "$out/mathjax/"
cp -r node_modules/mathjax/es5/output/chtml/fonts/woff-v2 "$out/mathjax/output/chtml/fonts/"
cp node_modules/mathjax/LICENSE "$out/mathjax/LICENSE"
cat > "$out/VERSIONS" <<V
@jupyter-widgets/html-manager 1.0.15 (BSD-3-Clause)
requirejs 2.3.8 (MIT)
mathjax 3.2.2 (Apache-2.0)
V
echo "vendored into $out"
