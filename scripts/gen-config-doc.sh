#!/bin/sh
# Regenerate the key reference in docs/configuration.md from the key table
# (`postie config doc`), between the BEGIN/END markers. `make docs` runs it.
set -eu
cd "$(dirname "$0")/.."
doc=docs/configuration.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sed '/<!-- BEGIN KEYS -->/q' "$doc" > "$tmp"
build/postie config doc >> "$tmp"
sed -n '/<!-- END KEYS -->/,$p' "$doc" >> "$tmp"
cp "$tmp" "$doc"
