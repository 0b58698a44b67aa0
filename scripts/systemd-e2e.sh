#!/usr/bin/env bash
# The package under a real systemd: a Debian bookworm tree (debootstrap,
# kept in /var/lib/machines/billmail-e2e) booted with systemd-nspawn, the
# .deb installed in it, a config and a credential written as the README's
# install section says, billmail.service enabled and booted, then checked:
# READY reached (active/running, "mailbox reached"), the database in the
# state directory owned by the dynamic user, the IMAP password read from
# LoadCredential, journal priorities, and `systemctl reload`. The mailbox is
# the local Dovecot (scripts/mailstack.sh), reached over the shared network.
# Needs root; takes a few minutes the first time (debootstrap, cargo deb).
#   scripts/systemd-e2e.sh [PATH.deb]
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
command -v systemd-nspawn >/dev/null || apt-get install -y -qq systemd-container >/dev/null

deb=${1:-}
if [ -z "$deb" ]; then
  ./scripts/package.sh >/dev/null
  deb=$(ls -t target/debian/billmail_*.deb | head -1)
fi
M=/var/lib/machines/billmail-e2e
if [ ! -x "$M/usr/bin/systemctl" ]; then
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$M" http://deb.debian.org/debian >/dev/null
fi
nspawn() { systemd-nspawn -q --register=no --keep-unit -D "$M" "$@"; }

# a fresh install each run
nspawn --pipe sh -c 'dpkg -P billmail >/dev/null 2>&1; rm -rf /etc/billmail /var/lib/private/billmail /var/lib/billmail /root/result' || true
cp "$deb" "$M/root/billmail.deb"
# as an admin would: apt resolves what the package depends on
nspawn --pipe sh -c 'apt-get update -qq && apt-get install -y -qq /root/billmail.deb' >/dev/null

stack=$(mktemp -d)
trap './scripts/mailstack.sh stop "$stack" >/dev/null 2>&1; rm -rf "$stack"' EXIT
./scripts/mailstack.sh start "$stack" >/dev/null
. "$stack/mailstack.env"

# what the admin writes (README, "Installing"): the config, and the secret as a credential
install -d -m 0700 "$M/etc/billmail/credentials"
printf '%s\n' "$MAIL_PASSWORD" > "$M/etc/billmail/credentials/imap-password"
chmod 0600 "$M/etc/billmail/credentials/imap-password"
sed 's|^url = "sqlite://billmail.db".*|url = "sqlite:///var/lib/billmail/billmail.db"|' "$M/etc/billmail/billmail.toml.example" > "$M/etc/billmail/billmail.toml"
cat >> "$M/etc/billmail/billmail.toml" <<CONF

[imap]
host = "127.0.0.1"
port = $IMAP_PORT
security = "plain"
username = "accounting@krgroup.example"
password_credential = "imap-password"
CONF

# a unit that waits for billmail, records what systemd says, reloads it, and powers off
cat > "$M/root/check.sh" <<'CHECK'
for i in $(seq 1 60); do systemctl is-active -q billmail && break; sleep 1; done
systemctl show -p ActiveState,SubState,StatusText,NRestarts billmail
pid=$(systemctl show -p MainPID --value billmail)
uid=$(awk '/^Uid:/ {print $2}' /proc/$pid/status)
[ "$(stat -c %u /var/lib/billmail/billmail.db)" = "$uid" ] && [ "$uid" -ge 61184 ] && echo "db owned by the dynamic user $uid"
stat -c "db mode %a %n" /var/lib/billmail/billmail.db
systemctl reload billmail
sleep 2
systemctl show -p ActiveState billmail | sed 's/^/after-reload-/'
BILLMAIL_CONFIG=/etc/billmail/billmail.toml billmail status | sed 's/^/status: /'
# a config that names another database is pointed at the service's
cp /etc/billmail/billmail.toml.example /root/elsewhere.toml
billmail --config /root/elsewhere.toml status 2>&1 | sed 's/^/elsewhere: /'
# root's commands leave the books usable by the service (SQLite gives root's WAL files the db's owner)
[ "$(stat -c %u /var/lib/billmail/billmail.db-wal)" = "$uid" ] && echo "wal owned by the dynamic user"
journalctl -b -u billmail -o json --no-pager | grep 'mailbox reached' | grep -o '"PRIORITY":"[0-9]"' | head -1 | sed 's/^/mailbox-reached-/'
journalctl -b -u billmail --no-pager -o cat
CHECK
cat > "$M/etc/systemd/system/billmail-check.service" <<'UNIT'
[Unit]
Description=check that billmail came up
After=billmail.service

[Service]
Type=oneshot
StandardOutput=file:/root/result
StandardError=file:/root/result
ExecStart=/bin/sh /root/check.sh
ExecStartPost=/bin/systemctl poweroff --no-block

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /usr/lib/systemd/system/billmail.service "$M/etc/systemd/system/multi-user.target.wants/billmail.service"
ln -sf /etc/systemd/system/billmail-check.service "$M/etc/systemd/system/multi-user.target.wants/billmail-check.service"
timeout 300 systemd-nspawn -q --register=no --keep-unit -D "$M" -b --console=pipe > "$stack/boot.log" 2>&1 || true

result="$M/root/result"
[ -f "$result" ] || { echo "no result; the boot log:" >&2; tail -30 "$stack/boot.log" >&2; exit 1; }
cat "$result"
fail=0
check() { grep -q "$1" "$result" || { echo "FAILED: expected $1" >&2; fail=1; }; }
check '^ActiveState=active$'
check '^SubState=running$'
check '^StatusText=mailbox reached$'
check '^NRestarts=0$'
check '^db owned by the dynamic user [0-9]*$'
check '^db mode 600 /var/lib/billmail/billmail.db$'
check '^after-reload-ActiveState=active$'
check '^mailbox-reached-"PRIORITY":"6"$'
check 'configuration reloaded'
check '^wal owned by the dynamic user$'
check "^elsewhere: billmail: no database at /root/billmail.db; the service's is /var/lib/billmail/billmail.db"
check '^status:   last intake:  .* 0 processed, 0 to review, 0 left for people$'
if [ $fail = 0 ]; then echo "ok: billmail.service came up READY under systemd $(nspawn --pipe systemctl --version | head -1 | cut -d' ' -f2)"; fi
exit $fail
