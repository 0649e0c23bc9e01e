#!/usr/bin/env bash
# make demo: build an image offline from the host's busybox and run it.
# Works as any user with subordinate IDs (or as root); needs busybox-static
# (sudo apt-get install busybox-static).
set -euo pipefail
cd "$(dirname "$0")/.."
COVE=${COVE:-$PWD/bin/cove}
BUSYBOX=${BUSYBOX:-$(command -v busybox || true)}
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked'; then
	for b in /bin/busybox /usr/bin/busybox; do
		if [ -x "$b" ]; then BUSYBOX=$b; fi
	done
fi
if [ -z "$BUSYBOX" ] || [ ! -x "$BUSYBOX" ]; then
	echo "demo: no busybox found; install it: sudo apt-get install busybox-static" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc,proc,sys,dev,tmp,root}
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
chmod 1777 "$root/tmp"
tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$work/rootfs.tar" .

echo "+ cove import --change 'CMD [\"sh\"]' rootfs.tar cove-demo/busybox"
"$COVE" import --change 'CMD ["sh"]' -m "made by make demo from $BUSYBOX" "$work/rootfs.tar" cove-demo/busybox
echo "+ cove images cove-demo/busybox"
"$COVE" images cove-demo/busybox
# The default network needs pasta (package passt) or slirp4netns, which a
# fresh Debian does not have: the demo runs without a network then, and
# says how to get one.
net=()
if ! command -v pasta >/dev/null && ! command -v slirp4netns >/dev/null; then
	echo "(no pasta or slirp4netns: running with --network none; for networking: sudo apt-get install passt)"
	net=(--network none)
fi
echo "+ cove run --rm ${net[*]} cove-demo/busybox sh -c \"echo hello from a cove container: \$(id); hostname; ps\""
"$COVE" run --rm "${net[@]}" cove-demo/busybox sh -c 'echo hello from a cove container: $(id); hostname; ps'
