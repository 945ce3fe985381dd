#!/usr/bin/env bash
# Builds a kind node image and a pod image without any container registry:
# everything comes from Debian's packages and from files you point it at.
#
#   node image  crisp.local/kind-node:<kubernetes version>-<content hash>
#               a debootstrap'd Debian bookworm with Debian's containerd 1.6,
#               runc and CNI plugins; kind's node files (entrypoint, units,
#               containerd config) from the kind source tree you give; your
#               kubeadm, kubelet and kubectl; and, imported into the node's
#               containerd at boot, the control plane's images made from
#               your kube-apiserver, kube-controller-manager and
#               kube-scheduler, etcd from Debian's etcd-server, and a pause
#               built from tests/e2e/pause.c. No kindnet, kube-proxy or
#               CoreDNS image: create clusters with
#               hack/kind-node/cluster-extra.yaml (hack/kind-up.sh
#               --config-extra). Loaded into docker.
#   pod image   crisp.local/busybox:<Debian's busybox version>, Debian's static
#               busybox with its applets, as a `docker save` archive for
#               `kind load image-archive` (hack/kind-up.sh --pod-archive).
#
# Both are cached by content: the debootstrap tree by suite and package
# list, the images by everything that goes into them. A second run with the
# same inputs builds nothing and prints the same names.
#
# usage: hack/kind-node-image.sh --k8s-bin DIR --kind-src DIR [--cache DIR]
#                                [--mirror URL] [--env-file FILE]
#        hack/kind-node-image.sh --pod-only [--cache DIR] [--mirror URL] [--env-file FILE]
#        (either form also takes --base-image)
#
#   --k8s-bin   a folder with kubeadm, kubelet, kubectl, kube-apiserver,
#               kube-controller-manager and kube-scheduler, all of one
#               Kubernetes version (none of them is packaged by Debian)
#   --kind-src  the source tree of your kind release (its images/base/files
#               hold the node's entrypoint and units; take the tree of the
#               kind you run)
#   --cache     where the debootstrap tree and archives are kept
#               (default ~/.cache/crisp-kind)
#   --mirror    the Debian mirror for debootstrap (default: the one apt uses)
#   --env-file  also write KIND_NODE_IMAGE=, KIND_POD_ARCHIVE= and
#               KIND_POD_IMAGE= lines to FILE (and KIND_BASE_IMAGE=)
#   --base-image  also load the debootstrap tree itself into docker as
#               crisp.local/debian:bookworm-<hash>: a local base for images
#               such as the DaemonSet installer (deploy/daemonset/Dockerfile,
#               --build-arg BASE=...)
#
# Needs root (debootstrap, chroot), debootstrap, docker (or podman with
# KIND_EXPERIMENTAL_PROVIDER=podman), python3, cc (the static pause) and
# about 2 GB in the cache folder. The first run spends most of its time in
# debootstrap (minutes, depending on the mirror).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
HERE=$REPO/hack/kind-node

K8S_BIN=""
KIND_SRC=""
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/crisp-kind
MIRROR=""
ENV_FILE=""
POD_ONLY=0
BASE_IMAGE_WANTED=0
BASE_IMAGE=""
SUITE=bookworm
# The node's packages (kind's node has the same tools, jq included: its
# OCI hook mount-product-files.sh needs it; containerd, runc and
# the CNI plugins are Debian's) and busybox-static for the pod image.
PACKAGES=(systemd systemd-sysv dbus containerd runc containernetworking-plugins
	iptables iproute2 ethtool conntrack socat kmod mount util-linux procps
	ca-certificates curl jq libseccomp2 busybox-static)
K8S_TOOLS=(kubeadm kubelet kubectl)
K8S_IMAGES=(kube-apiserver kube-controller-manager kube-scheduler)

usage() {
	sed -n '/^# usage:/,/^#$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--k8s-bin) K8S_BIN=${2:?--k8s-bin needs a value} && shift ;;
	--kind-src) KIND_SRC=${2:?--kind-src needs a value} && shift ;;
	--cache) CACHE=${2:?--cache needs a value} && shift ;;
	--mirror) MIRROR=${2:?--mirror needs a value} && shift ;;
	--env-file) ENV_FILE=${2:?--env-file needs a value} && shift ;;
	--pod-only) POD_ONLY=1 ;;
	--base-image) BASE_IMAGE_WANTED=1 ;;
	-h | --help) usage ;;
	*)
		echo "kind-node-image: unknown argument: $1" >&2
		usage
		;;
	esac
	shift
done

ENGINE=docker
[ "${KIND_EXPERIMENTAL_PROVIDER:-}" = podman ] && ENGINE=podman

say() { printf '== %s\n' "$*"; }
fail() {
	echo "kind-node-image: FAILED: $*" >&2
	exit 1
}
sha() { sha256sum "$@" | cut -d' ' -f1; }

[ "$(id -u)" -eq 0 ] || fail "run as root (debootstrap, chroot)"
for tool in debootstrap python3 tar "$ENGINE"; do
	command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install debootstrap docker.io python3)"
done
if [ $POD_ONLY -eq 0 ]; then
	{ [ -n "$K8S_BIN" ] && [ -n "$KIND_SRC" ]; } || fail "--k8s-bin and --kind-src are needed (or --pod-only)"
	K8S_BIN=$(cd "$K8S_BIN" && pwd)
	for b in "${K8S_TOOLS[@]}" "${K8S_IMAGES[@]}"; do
		[ -x "$K8S_BIN/$b" ] || fail "--k8s-bin $K8S_BIN has no executable $b"
	done
	KIND_FILES=$(cd "$KIND_SRC" && pwd)/images/base/files
	for f in usr/local/bin/entrypoint etc/containerd/config.toml \
		etc/systemd/system/kubelet.service etc/systemd/system/containerd.service; do
		[ -f "$KIND_FILES/$f" ] || fail "--kind-src: no images/base/files/$f (a kind source tree?)"
	done
	command -v cc >/dev/null || fail "cc is missing (build-essential): the pause binary is built here"
fi
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

# ---- 1. the debootstrap tree (cached by suite and packages) -------------------
if [ -z "$MIRROR" ]; then
	# The mirror this machine's apt uses for the suite's main component.
	MIRROR=$(apt-cache policy 2>/dev/null |
		awk -v s="$SUITE/main" '$3 == s && $2 ~ /^https?:/ {print $2; exit}')
	[ -n "$MIRROR" ] || fail "no $SUITE mirror in apt's sources: give --mirror URL"
fi
key1=$(printf '%s\n' "debootstrap minbase 1" "$SUITE" "${PACKAGES[@]}" | sha | cut -c1-16)
STAGE1=$CACHE/$SUITE-$key1
if [ -f "$STAGE1/complete" ]; then
	say "1. debootstrap $SUITE: cached ($STAGE1)"
else
	say "1. debootstrap $SUITE from $MIRROR into $STAGE1 (takes minutes)"
	rm -rf "$STAGE1"
	mkdir -p "$STAGE1"
	start=$SECONDS
	debootstrap --variant=minbase --include="$(
		IFS=,
		echo "${PACKAGES[*]}"
	)" "$SUITE" "$STAGE1/rootfs" "$MIRROR"
	# etcd for the control plane: only its binary, into the etcd image (its
	# package would also install and enable an etcd service in the node).
	mkdir -p "$STAGE1/debs"
	chroot "$STAGE1/rootfs" sh -c 'cd /tmp && apt-get -o APT::Sandbox::User=root download etcd-server'
	mv "$STAGE1"/rootfs/tmp/etcd-server_*.deb "$STAGE1/debs/"
	dpkg-deb -x "$STAGE1"/debs/etcd-server_*.deb "$STAGE1/etcd"
	rm -rf "$STAGE1/rootfs/var/cache/apt/archives/"*.deb
	touch "$STAGE1/complete"
	echo "debootstrap: $((SECONDS - start)) s"
fi
ROOTFS=$STAGE1/rootfs

if [ $BASE_IMAGE_WANTED -eq 1 ]; then
	BASE_IMAGE=crisp.local/debian:$SUITE-$key1
	if "$ENGINE" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
		say "1b. base image $BASE_IMAGE: cached (in $ENGINE)"
	else
		say "1b. base image $BASE_IMAGE (the debootstrap tree)"
		work=$(mktemp -d "$CACHE/base.XXXXXX")
		python3 "$HERE/image-archive.py" --layer-dir "$ROOTFS" --tag "$BASE_IMAGE" \
			--cmd '["bash"]' -o "$work/base.tar"
		"$ENGINE" load -i "$work/base.tar"
		rm -rf "$work"
	fi
fi

# ---- 2. the pod image ------------------------------------------------------------
busybox_version=$(dpkg-query --admindir="$ROOTFS/var/lib/dpkg" -W -f='${Version}' busybox-static)
busybox_version=${busybox_version#1:}
busybox_version=${busybox_version%%-*}
POD_IMAGE=crisp.local/busybox:$busybox_version
key_pod=$(cat "$ROOTFS/bin/busybox" "$HERE/image-archive.py" | sha | cut -c1-12)
POD_ARCHIVE=$CACHE/pod-busybox-$busybox_version-$key_pod.tar
if [ -f "$POD_ARCHIVE" ]; then
	say "2. pod image $POD_IMAGE: cached ($POD_ARCHIVE)"
else
	say "2. pod image $POD_IMAGE -> $POD_ARCHIVE"
	work=$(mktemp -d "$CACHE/pod.XXXXXX")
	mkdir -p "$work/root/bin" "$work/root/tmp" "$work/root/etc"
	chmod 1777 "$work/root/tmp"
	cp "$ROOTFS/bin/busybox" "$work/root/bin/busybox"
	for applet in $("$ROOTFS/bin/busybox" --list); do
		[ "$applet" = busybox ] || ln -s busybox "$work/root/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
		>"$work/root/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n' >"$work/root/etc/group"
	python3 "$HERE/image-archive.py" --layer-dir "$work/root" --tag "$POD_IMAGE" \
		--env PATH=/bin --cmd '["sh"]' -o "$POD_ARCHIVE"
	rm -rf "$work"
fi

write_env() {
	[ -n "$ENV_FILE" ] || return 0
	{
		[ $POD_ONLY -eq 1 ] || echo "KIND_NODE_IMAGE=$NODE_IMAGE"
		echo "KIND_POD_ARCHIVE=$POD_ARCHIVE"
		echo "KIND_POD_IMAGE=$POD_IMAGE"
		[ -z "$BASE_IMAGE" ] || echo "KIND_BASE_IMAGE=$BASE_IMAGE"
	} >"$ENV_FILE"
}
if [ $POD_ONLY -eq 1 ]; then
	write_env
	echo "pod archive: $POD_ARCHIVE ($POD_IMAGE)"
	exit 0
fi

# ---- 3. the node image (cached by everything that goes into it) -----------------
K8S_VERSION=$("$K8S_BIN/kubeadm" version -o short)
for b in kubelet kubectl; do
	v=$("$K8S_BIN/$b" --version 2>/dev/null | awk '{print $NF}' || true)
	[ "$b" = kubectl ] && v=$("$K8S_BIN/kubectl" version --client 2>/dev/null | awk '/Client Version/ {print $3}')
	[ "$v" = "$K8S_VERSION" ] || fail "$b is $v, kubeadm is $K8S_VERSION: give binaries of one version"
done
key2=$(
	{
		echo "$key1"
		sha "$REPO/hack/kind-node-image.sh" "$REPO/tests/e2e/pause.c"
		find "$HERE" -maxdepth 1 -type f -print0 | sort -z | xargs -0 sha256sum
		for b in "${K8S_TOOLS[@]}" "${K8S_IMAGES[@]}"; do sha "$K8S_BIN/$b"; done
		(cd "$KIND_FILES" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
	} | sha | cut -c1-12
)
NODE_IMAGE=crisp.local/kind-node:$K8S_VERSION-$key2
if "$ENGINE" image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
	say "3. node image $NODE_IMAGE: cached (in $ENGINE)"
	write_env
	echo "node image: $NODE_IMAGE"
	echo "pod archive: $POD_ARCHIVE ($POD_IMAGE)"
	exit 0
fi
say "3. node image $NODE_IMAGE"
start=$SECONDS
WORK=$(mktemp -d "$CACHE/node.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/rootfs
cp -a "$ROOTFS" "$R"

# kind's node files, as kind's base image Dockerfile copies them.
cp -a "$KIND_FILES/." "$R/"
chmod 0755 "$R/kind" "$R/kind/bin" "$R"/kind/bin/* "$R"/usr/local/bin/*
# ... and its clean-up of Debian's systemd for a container.
rm -f "$R/lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service" \
	"$R"/lib/systemd/system/multi-user.target.wants/* "$R"/etc/systemd/system/*.wants/* \
	"$R"/lib/systemd/system/local-fs.target.wants/* "$R"/lib/systemd/system/sockets.target.wants/*udev* \
	"$R"/lib/systemd/system/sockets.target.wants/*initctl* "$R"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >>"$R/etc/systemd/journald.conf"
mkdir -p "$R/etc/kubernetes/manifests"

# Debian's containerd, runc and CNI plugins where kind's files look for them.
for b in containerd ctr containerd-shim-runc-v2; do
	[ -x "$R/usr/bin/$b" ] || fail "the tree has no /usr/bin/$b"
	ln -sf "/usr/bin/$b" "$R/usr/local/bin/$b"
done
# runc on PATH first: runc itself where root has every capability, the
# wrapper's work only where it does not (see the wrapper).
install -m 0755 "$HERE/runc-drop-missing-caps" "$R/usr/local/sbin/runc"
mkdir -p "$R/opt/cni/bin"
for p in "$R"/usr/lib/cni/*; do
	ln -sf "/usr/lib/cni/$(basename "$p")" "$R/opt/cni/bin/$(basename "$p")"
done

# The images kubeadm asks for (kube-proxy and CoreDNS are not made: the
# cluster goes without them).
images=$("$K8S_BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION")
ref_of() { echo "$images" | grep -E "/$1:[^/]*\$" | head -n 1; }
PAUSE_REF=$(ref_of pause)
ETCD_REF=$(ref_of etcd)
{ [ -n "$PAUSE_REF" ] && [ -n "$ETCD_REF" ]; } || fail "kubeadm names no pause or etcd image: $images"

# containerd: kind's config, with the pause image kubeadm names, and
# restrict_oom_score_adj (where root may not lower an oom_score_adj, as in
# containers on some hosts, containerd would fail every pod sandbox; kind
# sets it for rootless nodes). The base OCI spec as kind's Dockerfile makes it.
sed -i -e "s#^\([[:space:]]*sandbox_image = \).*#\1\"$PAUSE_REF\"#" \
	-e 's#^\([[:space:]]*restrict_oom_score_adj = \).*#\1true#' "$R/etc/containerd/config.toml"
grep -q "sandbox_image = \"$PAUSE_REF\"" "$R/etc/containerd/config.toml" ||
	fail "kind's containerd config has no sandbox_image line"
chroot "$R" ctr oci spec | python3 -c '
import json, sys
spec = json.load(sys.stdin)
spec.setdefault("hooks", {}).setdefault("createContainer", []).append(
    {"path": "/kind/bin/mount-product-files.sh"})
spec["process"].pop("rlimits", None)
json.dump(spec, sys.stdout, indent=4)
' >"$R/etc/containerd/cri-base.json"

# Kubernetes.
for b in "${K8S_TOOLS[@]}"; do
	install -m 0755 "$K8S_BIN/$b" "$R/usr/bin/$b"
done
echo "$K8S_VERSION" >"$R/kind/version"

# image DIR REF [image-archive.py options]: DIR as image REF in /kind/images.
mkdir -p "$R/kind/images"
: >"$R/kind/images/refs"
image() {
	local dir=$1 ref=$2 file
	shift 2
	file=$(basename "${ref%%:*}").tar
	python3 "$HERE/image-archive.py" --layer-dir "$dir" --tag "$ref" -o "$R/kind/images/$file" "$@"
	echo "$file $ref" >>"$R/kind/images/refs"
}
# with_libs BIN ROOT: BIN's shared libraries (ldd) and loader into ROOT.
with_libs() {
	local lib
	if ! ldd "$1" >/dev/null 2>&1; then return 0; fi # static
	for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
		mkdir -p "$2$(dirname "$lib")"
		cp -L "$lib" "$2$lib"
	done
}
mkdir -p "$WORK/images"
for b in "${K8S_IMAGES[@]}"; do
	d=$WORK/images/$b
	mkdir -p "$d/usr/local/bin" "$d/tmp"
	chmod 1777 "$d/tmp"
	cp "$K8S_BIN/$b" "$d/usr/local/bin/$b"
	with_libs "$K8S_BIN/$b" "$d"
	image "$d" "$(ref_of "$b")"
done
d=$WORK/images/etcd
mkdir -p "$d/usr/local/bin" "$d/tmp" "$d/var/lib/etcd"
chmod 1777 "$d/tmp"
cp "$STAGE1/etcd/usr/bin/etcd" "$d/usr/local/bin/etcd"
with_libs "$STAGE1/etcd/usr/bin/etcd" "$d"
image "$d" "$ETCD_REF"
d=$WORK/images/pause
mkdir -p "$d"
cc -static -O2 -Wall -Werror -o "$d/pause" "$REPO/tests/e2e/pause.c"
image "$d" "$PAUSE_REF" --entrypoint '["/pause"]'

# The node's own set-up (images into containerd after it starts, the CNI
# config before), and the units kind's Dockerfile enables.
install -m 0644 "$HERE/crisp-kind-node.service" "$R/etc/systemd/system/crisp-kind-node.service"
install -D -m 0644 "$HERE/10-crisp-kind-cni.conf" \
	"$R/etc/systemd/system/containerd.service.d/10-crisp-kind-cni.conf"
install -m 0755 "$HERE/crisp-kind-node.sh" "$R/kind/bin/crisp-kind-node.sh"
systemctl --root="$R" enable kubelet.service containerd.service undo-mount-hacks.service \
	crisp-kind-node.service
systemctl --root="$R" mask systemd-binfmt.service

# What a fresh node must not inherit.
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/tmp/* "$R/etc/resolv.conf"
: >"$R/etc/machine-id"

python3 "$HERE/image-archive.py" --layer-dir "$R" --tag "$NODE_IMAGE" \
	--env container=docker --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--entrypoint '["/usr/local/bin/entrypoint", "/sbin/init"]' --stop-signal SIGRTMIN+3 \
	-o "$WORK/node.tar"
"$ENGINE" load -i "$WORK/node.tar"
echo "node image: $((SECONDS - start)) s"
write_env
echo "node image: $NODE_IMAGE"
echo "pod archive: $POD_ARCHIVE ($POD_IMAGE)"
