#!/usr/bin/env bash
# The test command: formatting, lints, then every test (unit, property,
# golden, CLI, reader corpus, and end-to-end mail tests against a real
# Dovecot and OpenSMTPD on loopback, installed here when missing; needs root),
# and `systemd-analyze verify` / `security` on the unit (from the systemd
# package, installed when missing; no running systemd is needed). The
# invoice PDFs are read with poppler-utils' pdfinfo and pdftotext, and the
# web console is driven in Debian's chromium over chromium-driver (each
# installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/mailstack.sh install
if ! command -v systemd-analyze >/dev/null; then
  echo "installing systemd (for systemd-analyze)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi
if ! command -v pdftotext >/dev/null || ! command -v pdftoppm >/dev/null; then
  echo "installing poppler-utils (the tests read the invoice PDFs with pdfinfo and pdftotext)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing chromium and chromium-driver (the web console's tests drive a real browser)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
