#!/usr/bin/env bash
# The test command: formatting, lints, then every test (unit, property,
# golden and CLI tests on real SQLite databases).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
