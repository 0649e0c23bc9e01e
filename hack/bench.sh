#!/usr/bin/env bash
# make bench: cove against Debian's podman (--runtime runc), side by side in
# one run. Needs the test environment (hack/setup-test-env.sh --big for the
# pull benchmark's ~250 MB image).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v podman >/dev/null; then
	echo "bench: podman is not installed (hack/setup-test-env.sh installs it on a test machine)" >&2
	exit 1
fi
exec go run ./hack/bench -cove bin/cove "$@"
