#!/usr/bin/env bash
# Builds sisync_VERSION_amd64.deb from the release build with Debian's own tools:
# dpkg-shlibdeps for Depends (plus what it cannot see: init-system-helpers for the
# maintainer scripts, fonts-dejavu-core for the parent letters) and dpkg-deb.
#
# Usage: packaging/build-deb.sh [OUTDIR]   (after `swift build -c release --static-swift-stdlib`)
# SISYNC_DEB_VERSION overrides the version (the upgrade test builds a newer one).
set -euo pipefail
umask 022  # the package's files are 0644/0755 whatever the builder's umask
cd "$(dirname "$0")/.."
PROJECT=$(pwd)
OUT=${1:-$PROJECT}
VERSION=${SISYNC_DEB_VERSION:-$(sed -n 's/.*current = "\(.*\)".*/\1/p' Sources/SISync/Run/SisyncVersion.swift)}
BIN=.build/release
for b in sisyncd sisyncctl sisync-api; do [ -x "$BIN/$b" ] || { echo "build-deb: no $BIN/$b (make build first)" >&2; exit 1; }; done

STAGE=$(mktemp -d /tmp/sisync-deb.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
P=$STAGE/sisync
install -d "$P/DEBIAN" "$P/usr/bin" "$P/lib/systemd/system" "$P/etc/sisync/tenants.d" \
  "$P/usr/share/doc/sisync" "$P/usr/share/man/man5" "$P/usr/share/man/man8" "$P/usr/share/bash-completion/completions"

# Binaries, stripped of their symbol tables (the Swift runtime's metadata stays).
for b in sisyncd sisyncctl sisync-api; do
  install -m 0755 "$BIN/$b" "$P/usr/bin/$b"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$P/usr/bin/$b"
done
# The units, pointing at /usr/bin.
for unit in sisync.service sisync-tenants.service sisync-api.service sisync-api.socket; do
  page=sisyncd; case $unit in sisync-api.*) page=sisync-api ;; esac
  sed -e 's|/usr/local/bin/|/usr/bin/|g' -e "s|file:///usr/local/share/doc/sisync/README.md|man:$page(8) file:///usr/share/doc/sisync/README.md.gz|" \
      -e 's|^# Install: `make install`|# Install: `apt install ./sisync_VERSION_amd64.deb`|' \
      "systemd/$unit" > "$P/lib/systemd/system/$unit"
  chmod 0644 "$P/lib/systemd/system/$unit"
done
# 0644: the service runs as a dynamic user, who must read it; secrets are never in it.
install -m 0644 config/sisync.conf "$P/etc/sisync/sisync.conf"
echo "/etc/sisync/sisync.conf" > "$P/DEBIAN/conffiles"
# Documentation: the README, copyright, changelog, the alert rules and a letter example.
gzip -9n < README.md > "$P/usr/share/doc/sisync/README.md.gz"
install -m 0644 packaging/debian/copyright "$P/usr/share/doc/sisync/copyright"
gzip -9n < packaging/debian/changelog > "$P/usr/share/doc/sisync/changelog.gz"
install -d "$P/usr/share/doc/sisync/examples"
install -m 0644 contrib/prometheus/sisync.rules.yml "$P/usr/share/doc/sisync/examples/sisync.rules.yml"
gzip -9n < man/sisyncd.8 > "$P/usr/share/man/man8/sisyncd.8.gz"
gzip -9n < man/sisyncctl.8 > "$P/usr/share/man/man8/sisyncctl.8.gz"
gzip -9n < man/sisync-api.8 > "$P/usr/share/man/man8/sisync-api.8.gz"
gzip -9n < man/sisync.conf.5 > "$P/usr/share/man/man5/sisync.conf.5.gz"
install -m 0644 contrib/bash-completion/sisyncctl "$P/usr/share/bash-completion/completions/sisyncctl"
for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$P/DEBIAN/$s"; done

# Depends from the libraries the binaries link (dpkg-shlibdeps wants a debian/control).
mkdir -p "$STAGE/debian"
printf 'Source: sisync\n\nPackage: sisync\nArchitecture: amd64\n' > "$STAGE/debian/control"
SHLIBS=$(cd "$STAGE" && dpkg-shlibdeps -O -e sisync/usr/bin/sisyncd -e sisync/usr/bin/sisyncctl -e sisync/usr/bin/sisync-api 2>"$STAGE/shlibdeps.log" | sed -n 's/^shlibs:Depends=//p') \
  || { cat "$STAGE/shlibdeps.log" >&2; exit 1; }
[ -n "$SHLIBS" ] || { echo "build-deb: dpkg-shlibdeps found no libraries" >&2; cat "$STAGE/shlibdeps.log" >&2; exit 1; }
SIZE=$(du -sk --exclude=DEBIAN "$P" | cut -f1)
sed -e "s|@VERSION@|$VERSION|" -e "s|@SIZE@|$SIZE|" -e "s|@SHLIBS@|$SHLIBS|" packaging/debian/control.in > "$P/DEBIAN/control"
(cd "$P" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$P/DEBIAN/md5sums"

find "$P" -type d -exec chmod 0755 {} +
mkdir -p "$OUT"
DEB=$OUT/sisync_${VERSION}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$P" "$DEB" >/dev/null
echo "$DEB"
