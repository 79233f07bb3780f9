#!/usr/bin/env bash
# Brings up a kit cluster by hand and keeps it until Ctrl-C (or until a given command
# ends), printing how to enter each node. For poking around and for demos.
#
#   sudo tools/cluster/up.sh [--nodes N] [--etcd] [--dual-stack] [-- command args...]
#
# The command, if given, runs in this shell with the kit's variables exported
# (KIT_RUN_DIR, KIT_NODE_<name>_PID, KIT_NODE_<name>_IP, KIT_ETCD_ENDPOINT; with
# --dual-stack also KIT_NODE_<name>_IP6).
set -euo pipefail
nodes=2 etcd='' dual=''
while (($#)); do
  case $1 in
  --nodes) nodes=$2; shift 2 ;;
  --etcd) etcd=1; shift ;;
  --dual-stack) dual=--dual-stack; shift ;;
  --) shift; break ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
source "$(dirname "$0")/kit.sh"
kit_cluster_up "$nodes" $dual
export KIT_RUN_DIR
[[ -z $etcd ]] || { kit_etcd_start; export KIT_ETCD_ENDPOINT; KIT_ETCD_ENDPOINT=$(kit_etcd_endpoint); }
for node in $(kit_nodes); do
  export "KIT_NODE_${node}_PID=$(kit_node_pid "$node")" "KIT_NODE_${node}_IP=$(kit_node_ip "$node")"
  [[ -z $dual ]] || export "KIT_NODE_${node}_IP6=$(kit_node_ip6 "$node")"
  printf '%s  %-15s enter: nsenter --target %s --net --mount\n' "$node" "$(kit_node_ip "$node")" "$(kit_node_pid "$node")"
done
[[ -z $etcd ]] || echo "etcd  $(kit_etcd_endpoint)"
echo "run dir $(kit_run_dir)"
if (($#)); then
  "$@"
else
  echo "Ctrl-C tears the cluster down."
  while :; do sleep 1; done
fi
