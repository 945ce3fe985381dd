#!/bin/sh
# Run once per boot by crisp-kind-node.service in an offline node image
# (hack/kind-node-image.sh), after containerd and before the kubelet.
#
# 1. Imports the images the node carries (/kind/images/*.tar, `docker save`
#    archives, listed with their names in /kind/images/refs) into containerd's
#    k8s.io namespace and pins them, so nothing is ever pulled and the
#    kubelet's image GC leaves them alone. ctr 1.6 has no `import --label`:
#    import, then label.
# 2. Writes the pod network's CNI config unless one exists: a bridge with
#    host-local addresses from 10.244.<last byte of the node's address>.0/24,
#    and portmap. The cluster runs without kindnet (no image offline): pods
#    reach each other on the same node and the node reaches them, which is
#    what exec, logs and port-forward need.
set -eu

while read -r file ref; do
	ctr --namespace k8s.io images import --all-platforms --no-unpack --digests "/kind/images/$file"
	ctr --namespace k8s.io images label "$ref" io.cri-containerd.pinned=pinned >/dev/null
	echo "imported $ref"
done </kind/images/refs

conf=/etc/cni/net.d/10-crisp-bridge.conflist
if ! ls /etc/cni/net.d/*.conf /etc/cni/net.d/*.conflist >/dev/null 2>&1; then
	addr=$(ip -4 -o addr show scope global | awk '{split($4, a, "/"); print a[1]; exit}')
	byte=${addr##*.}
	mkdir -p /etc/cni/net.d
	# written beside the folder, then moved in: containerd watches the folder
	tmp=/etc/cni/.10-crisp-bridge.conflist.tmp
	cat >"$tmp" <<EOF
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
EOF
	mv "$tmp" "$conf"
	echo "wrote $conf (10.244.$byte.0/24)"
fi
