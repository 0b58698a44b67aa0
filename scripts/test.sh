#!/usr/bin/env bash
# The test command: formatting, lints, then every test (unit, property,
# golden, CLI, reader corpus, and end-to-end mail tests against a real
# Dovecot and OpenSMTPD on loopback, installed here when missing; needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/mailstack.sh install
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
