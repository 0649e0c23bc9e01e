#!/usr/bin/env bash
# make fuzz: run every fuzz target for FUZZTIME (default 10s) each. Seed
# corpora under testdata/fuzz/ run as ordinary tests in make test-unit; this
# explores beyond them. A crasher is written to testdata/fuzz/ by go test:
# commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
TAGS='containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs containers_image_docker_daemon_stub osusergo netgo'
for pkg in $(go list -tags "$TAGS" ./...); do
	dir=$(go list -tags "$TAGS" -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $target ($FUZZTIME)"
		go test -tags "$TAGS" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
done
