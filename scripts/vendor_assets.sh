#!/usr/bin/env bash
# Re-fetch the portal's browser assets from the npm registry (pinned versions) into
# src/zhengxin/web/static/vendor/, with their licences and a SHA-256 manifest. The files are
# committed, so installing zhengxin never needs npm and the portal never loads from a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/zhengxin/web/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A files=(
  [htmx.org@2.0.11]=dist/htmx.min.js
  [vega@6.4.0]=build/vega.min.js
  [vega-lite@6.4.1]=build/vega-lite.min.js   # the Vega-Lite schema Altair writes (alt.SCHEMA_VERSION)
  [vega-embed@7.3.0]=build/vega-embed.min.js
)
: > "$work/SHA256SUMS"
for pkg in "${!files[@]}"; do
  tarball=$(cd "$work" && npm pack -q "$pkg" 2>/dev/null | tail -n1)
  name=${pkg%@*}
  mkdir -p "$work/$name" && tar xzf "$work/$tarball" -C "$work/$name"
  cp "$work/$name/package/${files[$pkg]}" "$out/"
  cp "$work/$name/package/LICENSE" "$out/LICENSE.$name"
done
(cd "$out" && sha256sum ./*.js | sed 's# \./# #' | sort -k2 > SHA256SUMS)
echo "vendored into $out:"; cat "$out/SHA256SUMS"
