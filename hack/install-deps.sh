#!/usr/bin/env bash
# Installs everything crisp needs to build, test and run its demo on Debian 12.
# Idempotent: a second run installs nothing new. Needs root (apt-get).
set -euo pipefail

packages=(
	# build
	build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
	libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
	libseccomp-dev libuv1-dev libnghttp2-dev libjson-c-dev libyaml-dev libhttp-parser-dev
	# the pod-spec source (--kubeconfig): HTTPS to the API server; its tests
	# make certificates with openssl
	libcurl4-openssl-dev openssl
	# unit tests
	libcmocka-dev
	# gRPC-level tests, replay and e2e clients (Debian's own python3)
	python3 python3-grpcio python3-protobuf protobuf-compiler
	# HTTP/2-level tests (tests/h2): raw frames, valid or not, and HPACK
	python3-h2 python3-hyperframe python3-hpack
	# the real runtime for end-to-end tests and the demo, and an image rootfs
	containerd runc busybox-static
	# benchmarks: the plain byte relay baseline, and the latency plot
	socat gnuplot-nox
	# reliability: hack/valgrind.sh (memcheck); hack/soak.sh plots with gnuplot
	valgrind
	# deployment tests: systemd-analyze/systemctl and a private systemd manager
	# (the package only; nothing is started at install), the kind and DaemonSet
	# YAML, and the deploy scripts' lint
	systemd python3-yaml shellcheck
	# the real clients (tests/critest, tests/kubelet; docs/critest.md): a
	# local registry for critest's images (and the lifecycle test's pull),
	# CNI for its pods, and xz for the tarballs a user gives
	# (CRI_TOOLS_TARBALL, KUBELET_XZ)
	docker-registry containernetworking-plugins iptables iproute2 util-linux procps xz-utils
	# CRI-O (tests/crio, docs/crio.md): the binaries come from the user (CRIO,
	# PINNS); its container monitor comes from Debian, like runc and CNI
	conmon
	# the kind tests' offline node and pod images (hack/kind-node-image.sh,
	# docs/kind.md); docker itself is the user's (Debian's docker.io or Docker's)
	debootstrap
)

# Download only: Debian's dynamic busybox, which the critest stand-in images
# are made of (its applets as hard links). Installing it would remove
# busybox-static, which the e2e image needs, so its .deb is kept here and
# unpacked by tests/critest/standin_images.py.
busybox_debs=/var/cache/crisp-test/debs
fetch_busybox_deb() {
	ls "$busybox_debs"/busybox_*.deb >/dev/null 2>&1 && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: no busybox .deb in $busybox_debs; run as root to download it" >&2
		return 1
	fi
	mkdir -p "$busybox_debs"
	# apt's download sandbox user must be able to write the folder
	chown _apt "$busybox_debs" 2>/dev/null || true
	(cd "$busybox_debs" && apt-get download -qq busybox) ||
		{ apt-get update -qq && (cd "$busybox_debs" && apt-get download -qq busybox); }
	echo "install-deps: downloaded $(ls "$busybox_debs")"
}

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages present"
	fetch_busybox_deb
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
fetch_busybox_deb
