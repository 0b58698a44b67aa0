#!/usr/bin/env bash
# The main job: bill three sample customers through three months and show
# what they were sent. Everything lands in ./demo-out (database, config,
# CSVs); run it again to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bm="$PWD/target/release/billmail"
out="$PWD/demo-out"
rm -rf "$out" && mkdir -p "$out"
cp examples/billmail.toml examples/accounts.csv examples/subscriptions.csv "$out/"
export BILLMAIL_CONFIG="$out/billmail.toml"

step() { printf '\n== %s\n' "$*"; }
step "init and import (November 2nd)"
"$bm" init
"$bm" accounts import "$out/accounts.csv" --now 2026-11-02T09:00:00-05:00
"$bm" subscriptions import "$out/subscriptions.csv" --now 2026-11-02T09:00:00-05:00
"$bm" accounts list

step "work outside the agreement, recorded November 3rd"
"$bm" service add --account ACME --date 2026-11-03 --engineer "Sam Ortiz" --hours 2.5 --rate 145 \
  --description "Restored the file share after a failed update" --now 2026-11-03T17:00:00-05:00

step "the daily cycle on November 4th: a service invoice"
"$bm" tick --now 2026-11-04T08:05:00-05:00

step "November 15th: agreement invoices for December (and a second tick that does nothing)"
"$bm" tick --now 2026-11-15T08:00:00-05:00
"$bm" tick --now 2026-11-15T08:00:00-05:00

step "ACME pays December's invoice and a little more (November 28th)"
dec=$("$bm" invoices list --account ACME --json | python3 -c 'import json,sys; print([i["number"] for i in json.load(sys.stdin) if i["kind"]=="agreement"][0])')
"$bm" payments record --account ACME --amount 2000.00 --method ach --reference 0210000212345 --invoice "$dec" \
  --now 2026-11-28T10:00:00-05:00

step "December 5th: recurring charges"
"$bm" tick --now 2026-12-05T08:00:00-05:00

step "December 10th: ACME now has 24 full-time users"
sed 's/hybrid,22,3/hybrid,24,3/' "$out/accounts.csv" > "$out/accounts-dec10.csv"
"$bm" accounts import "$out/accounts-dec10.csv" --now 2026-12-10T11:00:00-05:00

step "the daemon was down from December 11th to January 6th: one tick catches up"
"$bm" tick --now 2027-01-06T09:00:00-05:00

step "January 15th"
"$bm" tick --now 2027-01-15T08:00:00-05:00

step "ACME's account"
"$bm" accounts show ACME --now 2027-01-15T09:00:00-05:00
"$bm" accounts history ACME

step "every invoice"
"$bm" invoices list

jan=$("$bm" invoices list --account ACME --json | python3 -c 'import json,sys; print([i["number"] for i in json.load(sys.stdin) if i["kind"]=="agreement" and i["period"]=="2027-01"][0])')
step "ACME's January invoice, as the customer reads it (with the prorated change and the credit)"
"$bm" invoices show "$jan"

step "the outbox (no [smtp] in this config: mail stays queued)"
"$bm" outbox list
cat <<MSG

Done. Everything is in $out:
  BILLMAIL_CONFIG=$out/billmail.toml $bm invoices show NUMBER [--format html|json]
  BILLMAIL_CONFIG=$out/billmail.toml $bm outbox show ID [--html]
MSG
