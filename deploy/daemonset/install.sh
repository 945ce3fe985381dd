#!/usr/bin/env bash
# Installs crisp on a node, or removes it, and switches the kubelet over.
#
#   install.sh install     binary, unit, kubelet drop-in; crisp started before
#                          the kubelet is switched; the kubelet checked after
#   install.sh uninstall   the kubelet switched back first, then crisp removed
#   install.sh status      what is installed
#
# Run by the DaemonSet (deploy/daemonset/daemonset.yaml) with the node's root
# file system at /host and systemctl reached through PID 1's mount namespace.
# Everything that touches the node goes through these settings, so the same
# script runs on a node by hand (HOST_ROOT=/ SYSTEMCTL=systemctl) and in the
# tests (a temporary root and a fake systemctl that logs its calls):
#
#   HOST_ROOT       the node's root file system             (/host)
#   SYSTEMCTL       how to run the node's systemctl         (nsenter -t 1 -m -- systemctl)
#   CRISP_PAYLOAD   folder holding crisp, crisp.service, 20-crisp.conf and
#                   10-crio.conf                            (this script's folder)
#   CRISP_RUNTIME   containerd, crio or auto: the runtime crisp fronts; auto
#                   picks the one whose socket exists       (auto)
#   PROC_ROOT       /proc of the node's PID namespace       (/proc; the pod has hostPID)
#   KUBELET_HEALTHZ command that succeeds once the kubelet is healthy, or
#                   "none"        (GET 127.0.0.1:10248/healthz in PID 1's network)
#   CRISP_WAIT_SECONDS  how long the kubelet gets to become healthy  (120)
#
# Idempotent: files are replaced only when their content differs, and units
# are restarted only when one of their files changed. A second `install`
# with nothing new calls no restart at all.
set -euo pipefail

HOST_ROOT=${HOST_ROOT:-/host}
SYSTEMCTL=${SYSTEMCTL:-nsenter --target 1 --mount -- systemctl}
CRISP_PAYLOAD=${CRISP_PAYLOAD:-$(cd "$(dirname "$0")" && pwd)}
CRISP_RUNTIME=${CRISP_RUNTIME:-auto}
PROC_ROOT=${PROC_ROOT:-/proc}
CRISP_WAIT_SECONDS=${CRISP_WAIT_SECONDS:-120}
KUBELET_HEALTHZ=${KUBELET_HEALTHZ:-default}

# Where things go on the node (relative to HOST_ROOT).
BIN=/usr/local/bin/crisp
UNIT=/etc/systemd/system/crisp.service
CRIO_DROPIN_DIR=/etc/systemd/system/crisp.service.d
CRIO_DROPIN=$CRIO_DROPIN_DIR/10-crio.conf
KUBELET_DROPIN_DIR=/etc/systemd/system/kubelet.service.d
KUBELET_DROPIN=$KUBELET_DROPIN_DIR/20-crisp.conf
ETC_DIR=/etc/crisp
KUBELET_ENV=$ETC_DIR/kubelet.env
LOGS_DIR=/var/log/crisp
# kubeadm's drop-in reads KUBELET_EXTRA_ARGS from these, in this order.
KUBELET_EXTRA_FILES=(/etc/default/kubelet /etc/sysconfig/kubelet)

CONTAINERD_SOCKET=/run/containerd/containerd.sock
CRIO_SOCKET=/run/crio/crio.sock
ENDPOINT_CONTAINERD=unix:///run/crisp/crisp.sock
ENDPOINT_CRIO=unix:///run/crisp/run/crio/crio.sock

log() { echo "crisp-install: $*"; }
die() {
	echo "crisp-install: error: $*" >&2
	exit 1
}

# The node's systemctl. SYSTEMCTL is a command line: split on spaces on purpose.
sysctl_() {
	log "systemctl $*"
	# shellcheck disable=SC2086
	$SYSTEMCTL "$@"
}

host() { printf '%s%s' "${HOST_ROOT%/}" "$1"; }

# put SRC DEST MODE: DEST (node path) gets SRC's content, atomically (a
# temporary file in the same folder, then rename), only if it differs.
# Returns 0 if it changed the file, 1 if it was already right.
put() {
	local src=$1 dest target tmp
	dest=$2
	target=$(host "$dest")
	if [ -f "$target" ] && cmp -s "$src" "$target" &&
		[ "$(stat -c %a "$target")" = "$3" ]; then
		return 1
	fi
	mkdir -p "$(dirname "$target")"
	tmp="$target.crisp-new"
	cp "$src" "$tmp"
	chmod "$3" "$tmp"
	mv -f "$tmp" "$target"
	log "wrote $dest"
	return 0
}

# remove DEST: returns 0 if it removed something.
remove() {
	local target
	target=$(host "$1")
	if [ -e "$target" ] || [ -L "$target" ]; then
		rm -f "$target"
		log "removed $1"
		return 0
	fi
	return 1
}

remove_dir_if_empty() {
	local target
	target=$(host "$1")
	if [ -d "$target" ] && [ -z "$(ls -A "$target")" ]; then
		rmdir "$target"
		log "removed $1/"
	fi
}

detect_runtime() {
	case "$CRISP_RUNTIME" in
	containerd | crio) echo "$CRISP_RUNTIME" ;;
	auto)
		if [ -S "$(host "$CONTAINERD_SOCKET")" ]; then
			echo containerd
		elif [ -S "$(host "$CRIO_SOCKET")" ]; then
			echo crio
		else
			die "no runtime socket at $CONTAINERD_SOCKET or $CRIO_SOCKET under $HOST_ROOT; set CRISP_RUNTIME"
		fi
		;;
	*) die "CRISP_RUNTIME must be containerd, crio or auto, not '$CRISP_RUNTIME'" ;;
	esac
}

# The node's own KUBELET_EXTRA_ARGS (last file wins, as in systemd), without
# any --container-runtime-endpoint: the value systemd would see, for the
# simple KEY=value / KEY="value" / KEY='value' lines these files hold.
node_extra_args() {
	local file line value=""
	for file in "${KUBELET_EXTRA_FILES[@]}"; do
		[ -f "$(host "$file")" ] || continue
		while IFS= read -r line || [ -n "$line" ]; do
			line=${line#"${line%%[![:space:]]*}"}
			case "$line" in
			KUBELET_EXTRA_ARGS=*)
				value=${line#KUBELET_EXTRA_ARGS=}
				value=${value%"${value##*[![:space:]]}"}
				if [[ "$value" == \"*\" || "$value" == \'*\' ]]; then
					value=${value:1:${#value}-2}
				fi
				;;
			esac
		done <"$(host "$file")"
	done
	local out=() skip=0 word words=()
	read -r -a words <<<"$value"
	for word in "${words[@]}"; do
		if [ $skip -eq 1 ]; then
			skip=0
			continue
		fi
		case "$word" in
		--container-runtime-endpoint=*) continue ;;
		--container-runtime-endpoint)
			skip=1
			continue
			;;
		esac
		out+=("$word")
	done
	echo "${out[*]}"
}

# The kubelet.env this node needs, written to stdout.
render_kubelet_env() {
	local endpoint=$1 extra
	extra=$(node_extra_args)
	echo "# Written by crisp's installer (deploy/daemonset/install.sh); read by"
	echo "# kubelet.service.d/20-crisp.conf after the node's own KUBELET_EXTRA_ARGS"
	echo "# files, whose flags are repeated here. Re-run the installer after editing them."
	echo "KUBELET_EXTRA_ARGS=\"${extra:+$extra }--container-runtime-endpoint=$endpoint\""
}

# The crisp endpoint a saved kubelet.env points at (either runtime's).
endpoint_in() {
	if [ -f "$1" ] && grep -q "$ENDPOINT_CRIO" "$1"; then
		echo "$ENDPOINT_CRIO"
	else
		echo "$ENDPOINT_CONTAINERD"
	fi
}

# The --container-runtime-endpoint the running kubelet uses (the last one on
# its command line), read from PROC_ROOT.
kubelet_endpoint() {
	local pid word want=0 found=""
	pid=$($SYSTEMCTL show --property MainPID --value kubelet 2>/dev/null || true)
	[ -n "$pid" ] && [ "$pid" != 0 ] || return 1
	[ -r "$PROC_ROOT/$pid/cmdline" ] || return 1
	while IFS= read -r -d '' word; do
		if [ $want -eq 1 ]; then
			found=$word
			want=0
			continue
		fi
		case "$word" in
		--container-runtime-endpoint=*) found=${word#--container-runtime-endpoint=} ;;
		--container-runtime-endpoint) want=1 ;;
		esac
	done <"$PROC_ROOT/$pid/cmdline"
	echo "$found"
}

kubelet_healthy() {
	case "$KUBELET_HEALTHZ" in
	none) return 0 ;;
	default)
		# In PID 1's network namespace (the pod is not hostNetwork), with this
		# container's bash: the node may have no curl.
		nsenter --target 1 --net -- bash -c \
			'exec 3<>/dev/tcp/127.0.0.1/10248 && printf "GET /healthz HTTP/1.0\r\n\r\n" >&3 && grep -q "^ok" <&3' \
			2>/dev/null
		;;
	*)
		# shellcheck disable=SC2086
		$KUBELET_HEALTHZ
		;;
	esac
}

# After a kubelet restart: active, healthy, and on the right endpoint:
# `verify_kubelet is ENDPOINT` (install) or `verify_kubelet not ENDPOINT`
# (uninstall; the runtime's endpoint may come from a flag or, with kubeadm
# 1.34+, from the kubelet's config). Polls, bounded by CRISP_WAIT_SECONDS:
# the kubelet reports health only once it has talked to its runtime.
verify_kubelet() {
	local how=$1 want=$2 deadline got ok
	deadline=$((SECONDS + CRISP_WAIT_SECONDS))
	while :; do
		got=$(kubelet_endpoint || echo "?")
		ok=0
		if [ "$how" = is ]; then
			[ "$got" = "$want" ] && ok=1
		else
			[ "$got" != "$want" ] && [ "$got" != "?" ] && ok=1
		fi
		if [ $ok -eq 1 ] && $SYSTEMCTL is-active --quiet kubelet.service && kubelet_healthy; then
			log "kubelet is healthy (endpoint: ${got:-from its config})"
			return 0
		fi
		if [ $SECONDS -ge $deadline ]; then
			log "kubelet not healthy with endpoint $how $want after ${CRISP_WAIT_SECONDS}s (endpoint: '$got')"
			return 1
		fi
		sleep 2 # poll interval of a bounded wait on another process
	done
}

# Kubelet files, saved before a change so a failed switch can be undone.
SAVED=""
ENV_TMP=""
cleanup() { rm -rf "$SAVED" "$ENV_TMP"; }
trap cleanup EXIT

save_kubelet_files() {
	SAVED=$(mktemp -d)
	for f in "$KUBELET_ENV" "$KUBELET_DROPIN"; do
		if [ -f "$(host "$f")" ]; then
			cp -p "$(host "$f")" "$SAVED/$(basename "$f")"
		fi
	done
}

restore_kubelet_files() {
	for f in "$KUBELET_ENV" "$KUBELET_DROPIN"; do
		if [ -f "$SAVED/$(basename "$f")" ]; then
			mkdir -p "$(dirname "$(host "$f")")"
			cp -p "$SAVED/$(basename "$f")" "$(host "$f")"
		else
			rm -f "$(host "$f")"
		fi
	done
	remove_dir_if_empty "$ETC_DIR"
	remove_dir_if_empty "$KUBELET_DROPIN_DIR"
}

do_install() {
	local runtime endpoint changed=0
	runtime=$(detect_runtime)
	for f in crisp crisp.service 20-crisp.conf 10-crio.conf; do
		[ -f "$CRISP_PAYLOAD/$f" ] || die "payload $CRISP_PAYLOAD lacks $f"
	done
	log "installing for $runtime into $HOST_ROOT"

	# 1. crisp itself, started and ready before the kubelet is touched.
	put "$CRISP_PAYLOAD/crisp" "$BIN" 755 && changed=1
	put "$CRISP_PAYLOAD/crisp.service" "$UNIT" 644 && changed=1
	if [ "$runtime" = crio ]; then
		put "$CRISP_PAYLOAD/10-crio.conf" "$CRIO_DROPIN" 644 && changed=1
		endpoint=$ENDPOINT_CRIO
	else
		remove "$CRIO_DROPIN" && changed=1
		remove_dir_if_empty "$CRIO_DROPIN_DIR"
		endpoint=$ENDPOINT_CONTAINERD
	fi
	# crisp.service is Type=notify: start and restart return once crisp
	# listens, or fail.
	local started=1
	if [ $changed -eq 1 ]; then
		sysctl_ daemon-reload
		sysctl_ enable crisp.service
		sysctl_ restart crisp.service || started=0
	else
		sysctl_ enable --now crisp.service || started=0
	fi
	if [ $started -eq 0 ] || ! $SYSTEMCTL is-active --quiet crisp.service; then
		die "crisp.service is not active; the kubelet was left as it was (journalctl -u crisp)"
	fi

	# 2. The kubelet: drop-in and endpoint, then one controlled restart.
	ENV_TMP=$(mktemp)
	render_kubelet_env "$endpoint" >"$ENV_TMP"
	save_kubelet_files
	changed=0
	put "$ENV_TMP" "$KUBELET_ENV" 644 && changed=1
	put "$CRISP_PAYLOAD/20-crisp.conf" "$KUBELET_DROPIN" 644 && changed=1
	if [ $changed -eq 0 ]; then
		log "kubelet already set up; nothing restarted"
		return 0
	fi
	sysctl_ daemon-reload
	sysctl_ restart kubelet.service
	if ! verify_kubelet is "$endpoint"; then
		log "rolling the kubelet back to its previous endpoint"
		restore_kubelet_files
		sysctl_ daemon-reload
		sysctl_ restart kubelet.service
		die "the kubelet did not come up through crisp; rolled back (journalctl -u kubelet -u crisp)"
	fi
	log "installed: the kubelet talks to $endpoint"
}

do_uninstall() {
	local changed=0
	log "uninstalling from $HOST_ROOT"
	# 1. The kubelet back onto the runtime's socket, while crisp still runs.
	save_kubelet_files
	remove "$KUBELET_DROPIN" && changed=1
	remove "$KUBELET_ENV" && changed=1
	remove_dir_if_empty "$ETC_DIR"
	remove_dir_if_empty "$KUBELET_DROPIN_DIR"
	if [ $changed -eq 1 ]; then
		sysctl_ daemon-reload
		sysctl_ restart kubelet.service
		if ! verify_kubelet not "$(endpoint_in "$SAVED/kubelet.env")"; then
			log "putting the kubelet back onto crisp"
			restore_kubelet_files
			sysctl_ daemon-reload
			sysctl_ restart kubelet.service
			die "the kubelet did not come up without crisp; crisp left installed"
		fi
	fi
	# 2. crisp stopped, disabled and removed.
	if [ -e "$(host "$UNIT")" ]; then
		sysctl_ disable --now crisp.service
	fi
	changed=0
	remove "$UNIT" && changed=1
	remove "$CRIO_DROPIN" && changed=1
	remove_dir_if_empty "$CRIO_DROPIN_DIR"
	remove "$BIN" && changed=1
	# systemd made it for LogsDirectory=crisp; kept if it holds recordings.
	remove_dir_if_empty "$LOGS_DIR"
	if [ $changed -eq 1 ]; then
		sysctl_ daemon-reload
	fi
	log "uninstalled"
}

do_status() {
	local f
	for f in "$BIN" "$UNIT" "$CRIO_DROPIN" "$KUBELET_DROPIN" "$KUBELET_ENV"; do
		if [ -e "$(host "$f")" ]; then
			echo "present $f"
		else
			echo "absent  $f"
		fi
	done
	echo "crisp.service $($SYSTEMCTL is-active crisp.service 2>/dev/null || true)"
	echo "kubelet endpoint $(kubelet_endpoint || echo unknown)"
}

case "${1:-}" in
install) do_install ;;
uninstall) do_uninstall ;;
status) do_status ;;
*)
	echo "usage: $0 install|uninstall|status (settings: see the top of this script)" >&2
	exit 2
	;;
esac
