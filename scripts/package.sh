#!/usr/bin/env bash
# Builds the Debian package (installing cargo-deb when missing) and checks it:
# the files it holds and nothing else, the binary runs, and the unit it
# installs passes `systemd-analyze verify` and `security` in the unpacked tree.
#   scripts/package.sh      -> target/debian/billmail_<version>-1_<arch>.deb
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
cargo deb --locked
deb=$(ls -t target/debian/billmail_*.deb | head -1)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"

# exactly these files, nothing else
expected=$(
  {
    echo ./usr/bin/billmail
    echo ./usr/lib/systemd/system/billmail.service
    echo ./etc/billmail/billmail.toml.example
    echo ./usr/share/doc/billmail/README.md
    echo ./usr/share/doc/billmail/notices.md
    echo ./usr/share/doc/billmail/copyright
    for t in templates/*.j2; do echo "./usr/share/billmail/$t"; done
  } | sort
)
actual=$(cd "$root" && find . -type f | sort)
if [ "$expected" != "$actual" ]; then
  echo "package contents differ from what is expected:" >&2
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  exit 1
fi
if dpkg-deb -I "$deb" | grep -qE '^ +[0-9]+ bytes, +[0-9]+ lines +(pre|post)(inst|rm)'; then
  echo "the package has maintainer scripts; it must create nothing" >&2
  exit 1
fi

"$root/usr/bin/billmail" --version
cp "$root/etc/billmail/billmail.toml.example" "$root/billmail.toml"
"$root/usr/bin/billmail" --config "$root/billmail.toml" check-config
# the installed unit, pointed at the unpacked binary (verify checks that it exists)
sed "s|/usr/bin/billmail|$root/usr/bin/billmail|" "$root/usr/lib/systemd/system/billmail.service" > "$root/billmail.service"
systemd-analyze verify --man=no "$root/billmail.service"
systemd-analyze security --offline=yes --threshold=20 "$root/billmail.service" | tail -1
echo "ok: $deb ($(du -h "$deb" | cut -f1))"
