#!/usr/bin/env bash
# make-icon.sh — regenerate assets/eas-connector.ico from assets/eas-connector.svg (the project's
# own drawing: a phone with a green check on a blue tile). Run it by hand after editing the SVG
# and commit both files; builds only read the committed .ico and must not need these tools.
# Needs: rsvg-convert (librsvg2-bin) and convert (imagemagick). Downloads nothing.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sizes=(16 24 32 48 64 256)
pngs=()
for s in "${sizes[@]}"; do
  rsvg-convert -w "$s" -h "$s" eas-connector.svg -o "$tmp/$s.png"
  pngs+=("$tmp/$s.png")
done
# 256 px is stored PNG-compressed (Vista+ format), the small sizes as 32-bit BMP entries.
convert "${pngs[@]}" eas-connector.ico
identify eas-connector.ico
