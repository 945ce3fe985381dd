#!/bin/sh
# The offline node image's own set-up (hack/kind-node-image.sh), once per boot.
#
# crisp-kind-node.sh cni     (containerd.service's ExecStartPre, from the
#                            drop-in 10-crisp-kind-cni.conf)
#   Writes the pod network's CNI config unless one exists: a bridge with
#   host-local addresses from 10.244.<last byte of the node's address>.0/24,
#   and portmap. The cluster runs without kindnet (no image offline): pods
#   reach each other on the same node and the node reaches them, which is
#   what exec, logs and port-forward need. Written before containerd starts:
#   containerd 1.6 reloads its CNI config on a write or a rename in
#   /etc/cni/net.d but ignores a file that only appears (a create event), so
#   a config moved in afterwards would never be loaded.
#
# crisp-kind-node.sh images  (crisp-kind-node.service, after containerd and
#                            before the kubelet)
#   Imports the images the node carries (/kind/images/*.tar, `docker save`
#   archives, listed with their names in /kind/images/refs) into containerd's
#   k8s.io namespace and pins them, so nothing is ever pulled and the
#   kubelet's image GC leaves them alone. ctr 1.6 has no `import --label`:
#   import, then label.
set -eu

cni() {
	conf=/etc/cni/net.d/10-crisp-bridge.conflist
	if ls /etc/cni/net.d/*.conf /etc/cni/net.d/*.conflist >/dev/null 2>&1; then
		return 0
	fi
	addr=$(ip -4 -o addr show scope global | awk '{split($4, a, "/"); print a[1]; exit}')
	byte=${addr##*.}
	mkdir -p /etc/cni/net.d
	cat >"$conf.tmp" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "crisp-kind",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.244.$byte.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
	mv "$conf.tmp" "$conf"
	echo "wrote $conf (10.244.$byte.0/24)"
}

images() {
	while read -r file ref; do
		ctr --namespace k8s.io images import --all-platforms --no-unpack --digests "/kind/images/$file"
		ctr --namespace k8s.io images label "$ref" io.cri-containerd.pinned=pinned >/dev/null
		echo "imported $ref"
	done </kind/images/refs
}

case "${1:-}" in
cni) cni ;;
images) images ;;
*)
	echo "usage: $0 cni|images" >&2
	exit 2
	;;
esac
