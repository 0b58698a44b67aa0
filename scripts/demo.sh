#!/usr/bin/env bash
# The main job: a local mail stack (Dovecot + OpenSMTPD on loopback), three
# sample customers, customer mail arriving at accounting@, and billmail run
# through a month with `tick --now`. Everything lands in ./demo-out; run it
# again to start over. Needs root (the mail servers drop to their own users).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out="$root/demo-out"
bm="$root/target/release/billmail"

./scripts/mailstack.sh install
if ! command -v pdftotext >/dev/null; then
  echo "installing poppler-utils (to show the invoice PDFs)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
fi
cargo build --release --quiet
[ -d "$out/mail" ] && ./scripts/mailstack.sh stop "$out/mail" 2>/dev/null || true
rm -rf "$out" && mkdir -p "$out"
./scripts/mailstack.sh start "$out/mail"
trap './scripts/mailstack.sh stop "$out/mail" >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
. "$out/mail/mailstack.env"

cp examples/accounts.csv examples/subscriptions.csv "$out/"
printf '%s\n' "$MAIL_PASSWORD" > "$out/imap-password"
# [imap] start: the demo's customer mail is delivered today, while billmail
# acts on dates in November; without it a first connection would leave for
# people whatever is already in the mailbox
sed -e 's/^# \[imap\].*/[imap]/' -e 's/^# \[smtp\].*/[smtp]/' examples/billmail.toml \
  | awk -v imap="$IMAP_PORT" -v smtp="$SMTP_PORT" -v pw="$out/imap-password" -v today="$(date +%F)" '
      /^\[imap\]/ {print; print "host = \"127.0.0.1\"\nport = " imap "\nsecurity = \"plain\"\nusername = \"accounting@krgroup.example\"\npassword_file = \"" pw "\"\nstart = \"" today "\""; skip=1; next}
      /^\[smtp\]/ {print; print "host = \"127.0.0.1\"\nport = " smtp "\nsecurity = \"plain\"\nfrom = \"KR Group Accounting <accounting@krgroup.example>\""; skip=1; next}
      skip && /^# / {next}
      {skip=0; print}' > "$out/billmail.toml"
export BILLMAIL_CONFIG="$out/billmail.toml"

step() { printf '\n== %s\n' "$*"; }
send() { # send FILE to accounting@ through the local SMTP server
  python3 - "$SMTP_PORT" "$1" <<'PY'
import smtplib, sys
port, path = int(sys.argv[1]), sys.argv[2]
with smtplib.SMTP("127.0.0.1", port) as s:
    s.sendmail("customer@example", ["accounting@krgroup.example"], open(path, "rb").read())
PY
}
mailbox() { # list USER's folders and subjects over IMAP
  python3 - "$IMAP_PORT" "$MAIL_PASSWORD" "$@" <<'PY'
import imaplib, email, email.policy, re, sys
port, pw, users = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
for user in users:
    m = imaplib.IMAP4("127.0.0.1", port); m.login(user, pw)
    # (flags) "separator" name, whatever the server's separator
    folders = [re.match(rb'\(.*?\) (?:NIL|"[^"]*") (.*)', f).group(1).decode().strip('"') for f in m.list()[1]]
    for folder in sorted(folders):
        if m.select('"%s"' % folder, readonly=True)[0] != "OK":
            continue  # a parent folder that holds no messages
        ids = m.search(None, "ALL")[1][0].split()
        print(f"  {user} / {folder}: {len(ids)} message(s)")
        for i in ids:
            msg = email.message_from_bytes(m.fetch(i, "(BODY.PEEK[])")[1][0][1], policy=email.policy.default)
            subj = " ".join(str(msg.get("Subject", "")).split())
            kind = msg.get("X-Billmail-Kind")
            files = [a.get_filename() for a in msg.iter_attachments()] if msg.is_multipart() else []
            print(f"      - {subj}" + (f"   [X-Billmail-Kind: {kind}]" if kind else "")
                  + (f"   + {', '.join(f for f in files if f)}" if any(files) else ""))
    m.logout()
PY
}

step "a mail stack on loopback: IMAP $IMAP_PORT, SMTP $SMTP_PORT; billmail's config is $out/billmail.toml"
"$bm" check-config
"$bm" init

step "November 2nd: three customers and their subscriptions"
"$bm" accounts import "$out/accounts.csv" --now 2026-11-02T09:00:00-05:00
"$bm" subscriptions import "$out/subscriptions.csv" --now 2026-11-02T09:00:00-05:00
"$bm" accounts list

step "November 3rd: an engineer records work for Acme outside the agreement"
"$bm" service add --account ACME --date 2026-11-03 --engineer "Sam Ortiz" --hours 2.5 --rate 145 \
  --description "Restored the file share after a failed update" --now 2026-11-03T17:00:00-05:00

step "customers write to accounting@ (delivered through OpenSMTPD into Dovecot)"
for f in examples/mail/1-*.eml examples/mail/2-*.eml examples/mail/3-*.eml examples/mail/4-*.eml; do
  echo "  $(grep -m1 '^From:' "$f")   $(grep -m1 '^Subject:' "$f")"
  send "$f"
done
sleep 1

step "November 4th, 08:05: the daily cycle reads the mailbox, acts, issues the service invoice, sends everything"
"$bm" tick --now 2026-11-04T08:05:00-05:00

step "November 15th: agreement invoices for December go out (a second tick sends nothing)"
"$bm" tick --now 2026-11-15T08:00:00-05:00
"$bm" tick --now 2026-11-15T08:00:00-05:00

step "November 23rd: the bank reports Acme's ACH payment; billmail applies it and sends a receipt"
send examples/mail/5-bank-ach-acme.eml
sleep 1
"$bm" tick --now 2026-11-23T08:05:00-05:00

step "December 5th: recurring charges and November's statements of account; December 10th: staff record a 25th full-time user for Acme (CSV import)"
"$bm" tick --now 2026-12-05T08:00:00-05:00
sed "s/hybrid,22,3/hybrid,25,3/" "$out/accounts.csv" > "$out/accounts-dec10.csv"
"$bm" accounts import "$out/accounts-dec10.csv" --now 2026-12-10T11:00:00-05:00

step "December 15th: January's invoices (Acme's change prorated), and credit holds for what is 15 days late"
"$bm" tick --now 2026-12-15T08:00:00-05:00

step "what waits for a person: Harborview's word that a check is in the mail (a claim, never money)"
"$bm" review list

step "where everything went"
mailbox accounting@krgroup.example ap@acme-dental.example jane.doe@acme-dental.example \
        billing@harborview.example accounts@bellamy.example

step "Acme's January invoice, as the customer reads it"
jan=$("$bm" invoices list --account ACME --json | python3 -c 'import json,sys; print([i["number"] for i in json.load(sys.stdin) if i["kind"]=="agreement" and i["period"]=="2027-01"][0])')
"$bm" invoices show "$jan"

step "the same invoice as the PDF attached to its email (PDF/A, tagged): pdfinfo, then pdftotext -layout"
"$bm" invoices show "$jan" --format pdf --output "$out/$jan.pdf"
pdfinfo "$out/$jan.pdf" | grep -E '^(Title|Tagged|Pages|PDF version):'
pdftotext -layout "$out/$jan.pdf" - | sed -e '/^\s*$/d' -e 's/^/  /'
step "Harborview's statement of account for November (sent December 5th, with its PDF)"
"$bm" statement HARBOR --month 2026-11
step "the confirmation Jane received (threaded to her request)"
id=$("$bm" outbox list --json | python3 -c 'import json,sys; print([m["id"] for m in json.load(sys.stdin) if m["kind"]=="change_confirmation"][0])')
"$bm" outbox show "$id"

step "the outbox"
"$bm" outbox list

step "into the books: the month's invoices and payments for QuickBooks Online (billmail export)"
"$bm" export quickbooks-online --since-last --out "$out/books" --now 2026-12-15T09:00:00-05:00
head -4 "$out"/books/quickbooks-online-*-invoices.csv | cut -c1-160

step "what the on-call admin sees: billmail status"
"$bm" status --now 2026-12-15T08:30:00-05:00
cat <<MSG

Done. Everything is in $out (the mail servers are stopped now).
  BILLMAIL_CONFIG=$out/billmail.toml $bm invoices list | invoices show NUMBER [--format html|json]
  BILLMAIL_CONFIG=$out/billmail.toml $bm review list | review show ID | review approve ID
  BILLMAIL_CONFIG=$out/billmail.toml $bm accounts show ACME | accounts history ACME
  BILLMAIL_CONFIG=$out/billmail.toml $bm status [--json]
MSG
