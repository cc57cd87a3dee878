#!/usr/bin/env bash
# System packages for the Jekyll compatibility test, the browser test and the faked-clock run (Debian/Ubuntu).
# Without them those tests skip with a reason; with them the site is proven on real Jekyll and Chromium.
set -euo pipefail
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ci-system-deps: no apt-get here; the jekyll and browser tests will skip" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  jekyll jekyll-theme-minima ruby-jekyll-feed chromium fonts-noto-cjk faketime >/dev/null
echo "ci-system-deps: $(jekyll --version 2>/dev/null || echo 'jekyll missing'); $(chromium --version 2>/dev/null || echo 'chromium missing')"
echo "ci-system-deps: $(command -v faketime >/dev/null && echo 'faketime present' || echo 'faketime missing')"
