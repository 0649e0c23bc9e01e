#!/usr/bin/env bash
# hack/setup-test-env.sh - prepare a CI or test machine for cove's tests.
#
# THIS MODIFIES THE HOST: it installs Debian packages, creates users, edits
# /etc/subuid and /etc/subgid, changes device permissions, and starts two
# container registries in the background. It therefore refuses to run unless
# one of these is true:
#   CI=true               (set by CI systems)
#   COVE_TEST_MACHINE=1   (you declare this machine a disposable test machine)
#   --force               (on the command line)
#
# It is idempotent: a second run checks everything and takes a few seconds.
#
# Usage (as root, on Debian 12):
#   CI=true bash hack/setup-test-env.sh [--big]
#   bash hack/setup-test-env.sh --force [--big]
#
#   --big    also build and push the ~250 MB "big" image for pull benchmarks
#            (or set COVE_TEST_BIG=1)
#
# Result: /var/cache/cove-test/env, a shell-sourceable file:
#   COVE_TEST_USER=covetest             unprivileged user with a subuid/subgid range
#   COVE_TEST_NOSUB_USER=covenosub      unprivileged user without any range
#   COVE_TEST_REGISTRY=127.0.0.1:5000   plain-HTTP registry, no auth
#   COVE_TEST_AUTH_REGISTRY=127.0.0.1:5001  plain-HTTP registry, basic auth
#   COVE_TEST_AUTH_USER / COVE_TEST_AUTH_PASSWORD   its credentials
#   COVE_TEST_IMAGES=/var/cache/cove-test/images    NAME.docker.tar, NAME.oci.tar, NAME.oci/
set -euo pipefail

# ---------------------------------------------------------------------------
# Settings

readonly TEST_USER=covetest
readonly NOSUB_USER=covenosub
readonly SUBID_COUNT=65536
readonly SUBID_PREFERRED_START=200000

readonly REGISTRY=127.0.0.1:5000
readonly AUTH_REGISTRY=127.0.0.1:5001
readonly AUTH_USER=covetest
readonly AUTH_PASSWORD=covepass

readonly STATE_DIR=/var/lib/cove-test          # registries' data, configs, logs, stamps
readonly CACHE_DIR=/var/cache/cove-test        # what the tests read
readonly IMAGES_DIR=$CACHE_DIR/images
readonly ENV_FILE=$CACHE_DIR/env
readonly STAMP_DIR=$STATE_DIR/stamps

# Required packages. uidmap: newuidmap/newgidmap; podman, runc: reference
# implementation for comparisons and benchmarks; docker-registry: the local
# registries; apache2-utils: htpasswd for the auth registry.
readonly PACKAGES=(
	uidmap fuse-overlayfs slirp4netns passt busybox-static docker-registry
	podman runc libseccomp-dev iproute2 procps apache2-utils curl
)
# Nice to have; a missing candidate is only a warning.
readonly OPTIONAL_PACKAGES=(hyperfine)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly REPO_ROOT=${SCRIPT_DIR%/hack}

# ---------------------------------------------------------------------------
# Helpers

log() { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
	printf 'ERROR: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

# pkg_installed NAME: true when dpkg has NAME fully installed.
pkg_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

# pkg_available NAME: true when apt knows an installation candidate for NAME.
pkg_available() {
	local cand
	cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
	[[ -n $cand && $cand != "(none)" ]]
}

# http_code URL [curl args...]: print the HTTP status, 000 when nothing answers.
http_code() {
	local url=$1
	shift
	curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# Arguments and safety checks

FORCE=0
BIG=${COVE_TEST_BIG:-0}
for arg in "$@"; do
	case $arg in
	--force) FORCE=1 ;;
	--big) BIG=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument: $arg (see --help)" ;;
	esac
done

if [[ ${CI:-} != true && ${COVE_TEST_MACHINE:-} != 1 && $FORCE != 1 ]]; then
	cat >&2 <<EOF
Refusing to run: this script modifies the host. It installs packages, creates
the users $TEST_USER and $NOSUB_USER, edits /etc/subuid and /etc/subgid, makes
/dev/net/tun and /dev/fuse world-usable and starts registries on $REGISTRY
and $AUTH_REGISTRY.

Run it only on a CI or disposable test machine, with one of:
  CI=true bash hack/setup-test-env.sh
  COVE_TEST_MACHINE=1 bash hack/setup-test-env.sh
  bash hack/setup-test-env.sh --force
EOF
	exit 1
fi

[[ $(id -u) == 0 ]] || die "must run as root"
[[ -r /etc/debian_version ]] || warn "not a Debian system; package names may not match"

umask 022 # everything we create must be readable by the test users
START=$(date +%s.%N)
mkdir -p "$STATE_DIR" "$STAMP_DIR" "$IMAGES_DIR"
chmod 0755 "$CACHE_DIR" "$IMAGES_DIR"

# ---------------------------------------------------------------------------
# 1. Packages. dpkg-query is fast, so apt only runs when something is missing.

install_packages() {
	log "packages"
	local missing=() p
	for p in "${PACKAGES[@]}" "${OPTIONAL_PACKAGES[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		info "all present"
		return
	fi
	info "missing: ${missing[*]}"
	apt-get update -q

	local install=() unavailable=()
	for p in "${missing[@]}"; do
		if pkg_available "$p"; then
			install+=("$p")
		elif [[ " ${OPTIONAL_PACKAGES[*]} " == *" $p "* ]]; then
			warn "optional package $p is not available in apt; skipping it"
		else
			unavailable+=("$p")
		fi
	done
	((${#unavailable[@]} == 0)) || die "not available in apt: ${unavailable[*]}"
	if ((${#install[@]})); then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${install[@]}"
	fi
}

# ---------------------------------------------------------------------------
# 2. Users and subordinate ID ranges

# Print "start end" (inclusive) of every range in /etc/subuid and /etc/subgid.
subid_ranges() {
	cat /etc/subuid /etc/subgid 2>/dev/null |
		awk -F: 'NF >= 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ {print $2, $2 + $3 - 1}'
}

# pick_subid_start: the preferred start if free in both files, else the first
# 65536-aligned start past every existing range.
pick_subid_start() {
	local start=$SUBID_PREFERRED_START end=$((SUBID_PREFERRED_START + SUBID_COUNT - 1))
	local s e overlap=0 max=0
	while read -r s e; do
		((e > max)) && max=$e
		((s <= end && e >= start)) && overlap=1
	done < <(subid_ranges)
	if ((overlap)); then
		start=$(((max / SUBID_COUNT + 1) * SUBID_COUNT))
	fi
	echo "$start"
}

# has_range FILE USER UID: true when FILE has an entry for the user (by name or uid).
has_range() {
	grep -qE "^($2|$3):" "$1" 2>/dev/null
}

ensure_user() {
	local user=$1
	if ! id -u "$user" >/dev/null 2>&1; then
		# SUB_[UG]ID_COUNT=0 stops useradd from allocating a range on its
		# own; ranges are managed below, explicitly.
		useradd -m -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user"
		info "created user $user"
	fi
}

setup_users() {
	log "users"
	touch /etc/subuid /etc/subgid
	ensure_user "$TEST_USER"
	ensure_user "$NOSUB_USER"

	local uid start
	uid=$(id -u "$TEST_USER")
	if has_range /etc/subuid "$TEST_USER" "$uid" && has_range /etc/subgid "$TEST_USER" "$uid"; then
		info "$TEST_USER: subordinate ranges already present"
	else
		# Drop a half-configured state (only one file has it) and start over.
		sed -i -E "/^($TEST_USER|$uid):/d" /etc/subuid /etc/subgid
		start=$(pick_subid_start)
		usermod --add-subuids "$start-$((start + SUBID_COUNT - 1))" \
			--add-subgids "$start-$((start + SUBID_COUNT - 1))" "$TEST_USER"
		info "$TEST_USER: subordinate range $start-$((start + SUBID_COUNT - 1))"
	fi

	# The single-ID fallback tests need a user with no range at all.
	uid=$(id -u "$NOSUB_USER")
	if has_range /etc/subuid "$NOSUB_USER" "$uid" || has_range /etc/subgid "$NOSUB_USER" "$uid"; then
		sed -i -E "/^($NOSUB_USER|$uid):/d" /etc/subuid /etc/subgid
		info "$NOSUB_USER: removed subordinate ranges"
	fi

	info "$TEST_USER: $(grep -E "^($TEST_USER|$(id -u "$TEST_USER")):" /etc/subuid | head -1)"
	info "$NOSUB_USER: no subordinate ranges"

	# XDG_RUNTIME_DIR, normally made by systemd-logind (absent here). /run
	# is usually a tmpfs, so this is checked on every run.
	local u
	for u in "$TEST_USER" "$NOSUB_USER"; do
		uid=$(id -u "$u")
		install -d -m 0755 /run/user
		install -d -m 0700 -o "$u" -g "$(id -g "$u")" "/run/user/$uid"
	done
}

# ---------------------------------------------------------------------------
# 3. Devices and kernel settings, as on a normal desktop distribution

setup_devices() {
	log "devices"
	if [[ ! -c /dev/net/tun ]]; then
		mkdir -p /dev/net
		mknod /dev/net/tun c 10 200
	fi
	if [[ ! -c /dev/fuse ]]; then
		mknod /dev/fuse c 10 229
	fi
	chmod 0666 /dev/net/tun /dev/fuse
	info "$(ls -l /dev/net/tun)"
	info "$(ls -l /dev/fuse)"

	# Debian enables unprivileged user namespaces by default; make sure.
	local f=/proc/sys/kernel/unprivileged_userns_clone
	if [[ -r $f && $(<"$f") == 0 ]]; then
		echo 1 >"$f" 2>/dev/null || warn "cannot enable $f; rootless tests will fail"
	fi
	f=/proc/sys/user/max_user_namespaces
	if [[ -r $f && $(<"$f") == 0 ]]; then
		echo 15000 >"$f" 2>/dev/null || warn "cannot raise $f; rootless tests will fail"
	fi
}

# ---------------------------------------------------------------------------
# 4. Local registries (Debian's docker-registry, distribution 2.x)

# write_registry_config FILE ADDR ROOTDIR [HTPASSWD]
write_registry_config() {
	local cfg=$1 addr=$2 root=$3 htpasswd=${4:-}
	{
		cat <<EOF
# Written by hack/setup-test-env.sh; test registry, plain HTTP on loopback.
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $root
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $addr
  secret: cove-test-not-secret
EOF
		if [[ -n $htpasswd ]]; then
			cat <<EOF
auth:
  htpasswd:
    realm: cove-test
    path: $htpasswd
EOF
		fi
	} >"$cfg.tmp"
	mv "$cfg.tmp" "$cfg"
}

# start_registry NAME CFG LOG URL WANT_CODE [curl args...]
start_registry() {
	local name=$1 cfg=$2 logf=$3 url=$4 want=$5
	shift 5
	local code
	code=$(http_code "$url" "$@")
	if [[ $code == "$want" ]]; then
		info "$name: already running ($url -> $code)"
		return
	fi
	[[ $code == 000 ]] || die "$name: something else answers on $url (HTTP $code); stop it first"
	setsid nohup docker-registry serve "$cfg" >"$logf" 2>&1 </dev/null &
	local i
	for ((i = 0; i < 100; i++)); do # 20 s
		code=$(http_code "$url" "$@")
		[[ $code == "$want" ]] && {
			info "$name: started, pid $!, log $logf"
			return
		}
		sleep 0.2
	done
	tail -n 20 "$logf" >&2 || true
	die "$name: no answer from $url after 20 s (last HTTP code $code)"
}

setup_registries() {
	log "registries"
	command -v docker-registry >/dev/null || die "docker-registry not installed"

	# Open registry on :5000.
	local cfg=$STATE_DIR/registry.yml
	mkdir -p "$STATE_DIR/registry"
	write_registry_config "$cfg" "$REGISTRY" "$STATE_DIR/registry"
	start_registry "registry $REGISTRY" "$cfg" "$STATE_DIR/registry.log" \
		"http://$REGISTRY/v2/" 200

	# Registry with basic auth on :5001, for login tests. htpasswd must be
	# bcrypt for distribution's htpasswd backend. Regenerate it only when the
	# credentials no longer verify, so a running registry keeps its file.
	local auth_cfg=$STATE_DIR/registry-auth.yml htp=$STATE_DIR/registry-auth.htpasswd
	mkdir -p "$STATE_DIR/registry-auth"
	if ! [[ -s $htp ]] || ! htpasswd -vb "$htp" "$AUTH_USER" "$AUTH_PASSWORD" >/dev/null 2>&1; then
		htpasswd -Bbn "$AUTH_USER" "$AUTH_PASSWORD" >"$htp.tmp"
		mv "$htp.tmp" "$htp"
	fi
	chmod 0644 "$htp"
	write_registry_config "$auth_cfg" "$AUTH_REGISTRY" "$STATE_DIR/registry-auth" "$htp"
	start_registry "auth registry $AUTH_REGISTRY" "$auth_cfg" "$STATE_DIR/registry-auth.log" \
		"http://$AUTH_REGISTRY/v2/" 200 -u "$AUTH_USER:$AUTH_PASSWORD"
	local code
	code=$(http_code "http://$AUTH_REGISTRY/v2/")
	[[ $code == 401 ]] || die "auth registry answers $code without credentials, want 401"
}

# ---------------------------------------------------------------------------
# 5. Test images (hack/testimages), rebuilt only when the generator, the
# busybox binary or the requested set changed, or the registry lost them.

find_go() {
	if command -v go >/dev/null; then
		command -v go
	elif [[ -x /usr/local/go/bin/go ]]; then
		echo /usr/local/go/bin/go
	else
		die "go not found in PATH or /usr/local/go/bin"
	fi
}

# registry_has HOST REPO:TAG [curl args...]: the manifest exists.
registry_has() {
	local host=$1 ref=$2
	shift 2
	[[ $(http_code "http://$host/v2/${ref%:*}/manifests/${ref##*:}" -I \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' "$@") == 200 ]]
}

# images_hash ARGS...: what the generated images depend on.
images_hash() {
	{
		cat "$REPO_ROOT"/hack/testimages/*.go
		"$BUSYBOX_BIN" --help 2>&1 | head -1
		sha256sum "$BUSYBOX_BIN" | cut -d' ' -f1
		echo "$*"
	} | sha256sum | cut -d' ' -f1
}

# stamp_matches NAME HASH: the stamp file NAME holds HASH.
stamp_matches() {
	[[ -r $STAMP_DIR/$1 && $(<"$STAMP_DIR/$1") == "$2" ]]
}

# run_testimages ARGS...: go run the generator, indented, password hidden.
run_testimages() {
	local go
	go=$(find_go)
	local shown="$*"
	info "building: go run ./hack/testimages ${shown//$AUTH_PASSWORD/***}"
	(cd "$REPO_ROOT" && "$go" run ./hack/testimages "$@") | sed 's/^/    /'
}

build_images() {
	log "test images"
	BUSYBOX_BIN=$(command -v busybox) || die "busybox not found"
	local args=(-out "$IMAGES_DIR" -busybox "$BUSYBOX_BIN"
		-registry "$REGISTRY" -registry "$AUTH_USER:$AUTH_PASSWORD@$AUTH_REGISTRY")

	# busybox, multi, many: archives plus both registries.
	local want ok=1 n
	want=$(images_hash "${args[@]}")
	stamp_matches images "$want" || ok=0
	for n in busybox multi many; do
		((ok)) || break
		[[ -r $IMAGES_DIR/$n.docker.tar && -r $IMAGES_DIR/$n.oci.tar ]] || ok=0
		registry_has "$REGISTRY" "cove-test/$n:latest" || ok=0
		registry_has "$AUTH_REGISTRY" "cove-test/$n:latest" -u "$AUTH_USER:$AUTH_PASSWORD" || ok=0
	done
	if ((ok)); then
		info "busybox, multi, many: up to date (stamp $STAMP_DIR/images)"
	else
		run_testimages "${args[@]}"
		chmod -R a+rX "$IMAGES_DIR"
		echo "$want" >"$STAMP_DIR/images"
	fi

	# big: only on request, only in the open registry; separate stamp so that
	# runs with and without --big do not rebuild each other's images.
	((BIG)) || return 0
	local big_args=(-out "$IMAGES_DIR" -busybox "$BUSYBOX_BIN" -registry "$REGISTRY" -big-only)
	want=$(images_hash "${big_args[@]}")
	if stamp_matches big "$want" && registry_has "$REGISTRY" cove-test/big:latest; then
		info "big: up to date (stamp $STAMP_DIR/big)"
	else
		run_testimages "${big_args[@]}"
		echo "$want" >"$STAMP_DIR/big"
	fi
}

# ---------------------------------------------------------------------------
# 6. Environment file and summary

write_env() {
	cat >"$ENV_FILE.tmp" <<EOF
# Written by hack/setup-test-env.sh; source it in tests.
COVE_TEST_USER=$TEST_USER
COVE_TEST_NOSUB_USER=$NOSUB_USER
COVE_TEST_REGISTRY=$REGISTRY
COVE_TEST_AUTH_REGISTRY=$AUTH_REGISTRY
COVE_TEST_AUTH_USER=$AUTH_USER
COVE_TEST_AUTH_PASSWORD=$AUTH_PASSWORD
COVE_TEST_IMAGES=$IMAGES_DIR
EOF
	chmod 0644 "$ENV_FILE.tmp"
	mv "$ENV_FILE.tmp" "$ENV_FILE"
}

summary() {
	local end
	end=$(date +%s.%N)
	log "summary"
	info "test user:        $TEST_USER (uid $(id -u "$TEST_USER"), subuid $(grep -E "^$TEST_USER:" /etc/subuid | cut -d: -f2,3 | head -1))"
	info "no-subid user:    $NOSUB_USER (uid $(id -u "$NOSUB_USER"))"
	info "registry:         http://$REGISTRY (log $STATE_DIR/registry.log)"
	info "auth registry:    http://$AUTH_REGISTRY user $AUTH_USER (log $STATE_DIR/registry-auth.log)"
	local tars=("$IMAGES_DIR"/*.tar)
	info "images:           $IMAGES_DIR: ${tars[*]##*/}"
	info "env file:         $ENV_FILE"
	info "podman:           $(podman --version 2>/dev/null || echo missing)"
	info "done in $(awk -v a="$START" -v b="$end" 'BEGIN {printf "%.1f s", b - a}')"
}

install_packages
setup_users
setup_devices
setup_registries
build_images
write_env
summary
