#!/usr/bin/env bash
# Does a change to the reader change any reading? Builds BASE (a git
# revision, default HEAD) in a scratch worktree, then reads the public
# corpus, tests/corpus and thousands of variants of them (each body line
# dropped in turn, neighbouring lines joined, the body lower-cased and
# upper-cased) with both binaries and prints every message whose
# `parse --json` differs (messages-b too). For speed and structure work, where the answer must be "none".
#
#   scripts/reader-diff.sh [BASE]      exit 0: identical readings; 1: some differ
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=${1:-HEAD}
work=$(mktemp -d /tmp/reader-diff.XXXXXX)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git worktree add --detach --force "$work/base" "$base_rev" >/dev/null 2>&1
echo "building $base_rev and the working tree (release)..."
# (a target directory of its own under ours, so the next run is incremental)
(cd "$work/base" && CARGO_TARGET_DIR="$OLDPWD/target/reader-diff-base" cargo build --release --quiet --bin billmail)
cp target/reader-diff-base/release/billmail "$work/billmail-base"
cargo build --release --quiet --bin billmail
new=target/release/billmail

mkdir -p "$work/in"
python3 - "$work/in" ../shared/corpus/messages ../shared/corpus/messages-b tests/corpus <<'EOF'
import os, sys
out, dirs = sys.argv[1], sys.argv[2:]
n = 0
def put(name, data):
    global n
    n += 1
    with open(os.path.join(out, f"{n:06d}-{name}.eml"), "wb") as f:
        f.write(data)
for d in dirs:
    if not os.path.isdir(d):
        continue
    for fn in sorted(os.listdir(d)):
        if not fn.endswith(".eml"):
            continue
        raw = open(os.path.join(d, fn), "rb").read()
        put(fn[:-4], raw)
        sep = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
        if sep not in raw:
            continue
        head, body = raw.split(sep, 1)
        nl = b"\r\n" if sep == b"\r\n\r\n" else b"\n"
        lines = body.split(nl)
        for i in range(len(lines)):
            put(f"{fn[:-4]}-drop{i}", head + sep + nl.join(lines[:i] + lines[i + 1:]))
            if i + 1 < len(lines):
                put(f"{fn[:-4]}-join{i}", head + sep + nl.join(lines[:i] + [lines[i] + b" " + lines[i + 1]] + lines[i + 2:]))
        put(f"{fn[:-4]}-lower", head + sep + body.lower())
        put(f"{fn[:-4]}-upper", head + sep + body.upper())
print(f"{n} messages")
EOF

read_all() {
    local bin=$1 dest=$2
    mkdir -p "$dest"
    find "$work/in" -name '*.eml' -print0 |
        xargs -0 -P"$(nproc)" -n 50 sh -c 'bin=$1; dest=$2; shift 2; for f; do
            "$bin" parse --config /dev/null --now 2026-11-24T12:00:00-05:00 --json "$f" >"$dest/$(basename "$f").json" 2>&1 || true
        done' _ "$bin" "$dest"
}
read_all "$work/billmail-base" "$work/base-out"
read_all "$new" "$work/new-out"
if diff -r -q "$work/base-out" "$work/new-out" >"$work/diff" 2>&1; then
    echo "identical: $(find "$work/new-out" -name '*.json' | wc -l) readings"
    exit 0
fi
wc -l <"$work/diff" | sed 's/$/ readings differ:/'
head -20 "$work/diff"
first=$(head -1 "$work/diff" | awk '{print $2}')
diff "$first" "${first/base-out/new-out}" || true
exit 1
