#!/usr/bin/env bash
# The holder of one simulated node. Started by kit.sh already inside the node's network
# namespace and a fresh mount namespace with slave propagation (so pod namespaces added
# to the host's /run/netns later still appear here). Gives the node its own view of
# /sys, a bpffs, /run, /var/lib/cni and CNI conf/bin dirs, reports ready, then sleeps
# until the kit kills it; its mount namespace dies with it.
#   holder.sh <tag> <node-dir>
set -euo pipefail
tag=$1
node_dir=$2

# A directory that does not exist on the host cannot be a mount point without creating
# it there. Instead, overlay its nearest existing ancestor with a per-node upper layer
# and create the directory in that layer: the host's file system stays untouched.
declare -A overlaid=()
make_mount_point() {
  local path=$1 ancestor=$1
  [[ -d $path ]] && return 0
  while [[ ! -d $ancestor ]]; do ancestor=$(dirname "$ancestor"); done
  if [[ -z ${overlaid[$ancestor]:-} ]]; then
    local layer
    layer=$node_dir/overlay/$(echo "$ancestor" | tr / _)
    mkdir -p "$layer/upper" "$layer/work"
    mount -t overlay overlay \
      -o "lowerdir=$ancestor,upperdir=$layer/upper,workdir=$layer/work" "$ancestor"
    overlaid[$ancestor]=1
  fi
  mkdir -p "$path"
}

# /sys: a sysfs mounted from inside this netns shows this node's devices only.
umount -l /sys
mount -t sysfs sysfs /sys
mount -t bpf bpffs /sys/fs/bpf

# /run: private tmpfs, with the host's /run/netns (a slave of it) carried back in.
mkdir -p "$node_dir/mnt/netns"
mount --rbind /run/netns "$node_dir/mnt/netns"
mount -t tmpfs -o mode=755 tmpfs /run
mkdir /run/netns
mount --move "$node_dir/mnt/netns" /run/netns

make_mount_point /var/lib/cni
mount -t tmpfs -o mode=755 tmpfs /var/lib/cni
make_mount_point /etc/cni/net.d
mount --bind "$node_dir/cni/net.d" /etc/cni/net.d
make_mount_point /opt/cni/bin
mount --bind "$node_dir/cni/bin" /opt/cni/bin

touch "$node_dir/ready"
exec -a "$tag" sleep infinity
