#!/bin/sh
# CPS Bridge for macOS: a flat installer package with the frozen host in
# "/Library/Application Support/CPS Bridge" and the system host manifests where Chrome,
# Chromium, Edge, Brave and Firefox look for them (laid out by the host's own
# `install --system`, so the folders are those of host/registration.py).
# On a Mac, from the repository root, after `python build.py host`:
#   sh packaging/macos/build-pkg.sh            (PKG_SIGN_IDENTITY="Developer ID Installer: …" to sign)
# Removing it: sudo "/Library/Application Support/CPS Bridge/cpsbridge-host" uninstall --system,
# then sudo rm -rf "/Library/Application Support/CPS Bridge", then
# sudo pkgutil --forget fr.viatrajectoire.cpsbridge (the receipt, docs/DEPLOYMENT.md §5.3).
set -eu

HOST_DIR="/Library/Application Support/CPS Bridge"
IDENTIFIER="fr.viatrajectoire.cpsbridge"
VERSION=$(python3 -c 'import host; print(host.__version__)')
STAGE="build/macos/root"

[ -x dist/host/cpsbridge-host ] || { echo "dist/host/cpsbridge-host missing: run python build.py host" >&2; exit 1; }
rm -rf build/macos
mkdir -p "$STAGE$HOST_DIR"
cp -R dist/host/. "$STAGE$HOST_DIR/"
"$STAGE$HOST_DIR/cpsbridge-host" install --system --root "$STAGE" --host-path "$HOST_DIR/cpsbridge-host"

set -- --root "$STAGE" --identifier "$IDENTIFIER" --version "$VERSION" --install-location /
if [ -n "${PKG_SIGN_IDENTITY:-}" ]; then
  set -- "$@" --sign "$PKG_SIGN_IDENTITY"
fi
pkgbuild "$@" "dist/cpsbridge-$VERSION.pkg"
echo "dist/cpsbridge-$VERSION.pkg"
