#!/usr/bin/env bash
# The README's "play the loop by hand" walkthrough, line for line, as a
# script: .ci/run runs it, so the README's commands keep working. Run it
# from the repository's root.
set -euo pipefail

go build -o uar ./cmd/uar
export PATH="$PWD:$PATH"
dir=$(mktemp -d)
uar sandbox --detach --dir "$dir"
# A failing step must not leave the detached sandbox running (in CI too).
trap 'uar sandbox stop --dir "$dir" >/dev/null 2>&1 || true' EXIT
cd "$dir"
. ./sandbox.env
uar snapshot && uar score && uar publish
uar sandbox comment --ticket UAR-1 --as nina.patel@company.com "REVOKE: ivan.petrov@company.com -- contract ended"
uar parse-decisions && uar revoke
uar verify --rederive
uar sandbox stop
