#!/usr/bin/env bash
# Debian packages the project uses when they can be had (root or sudo, apt-get present):
#   libtcmalloc-minimal4   faster allocator for large activations (see README, "Speed")
#   dataset-fashion-mnist  the real Fashion-MNIST, used by the learning test and offline classes
#   chromium               (only with --browser) the real browser the notebook tests drive
# Without apt-get or root the step is skipped with a message; the tests that need chromium
# then fail with a message saying how to install it.
set -euo pipefail
pkgs=(libtcmalloc-minimal4 dataset-fashion-mnist)
[ "${1:-}" = "--browser" ] && pkgs+=(chromium)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "note: no apt-get here; install ${missing[*]} with your system's package manager" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
        echo "note: not root; install ${missing[*]} with: sudo apt-get install ${missing[*]}" >&2
        exit 0
    fi
fi
echo "Installing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
