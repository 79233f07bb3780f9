#!/usr/bin/env bash
# `cmake --install` lays out a node (into a DESTDIR, never the real root), and the shipped
# conflist and DaemonSet manifest parse.
set -euo pipefail
src=${SHUTTLE_SOURCE_DIR:?} bin=${SHUTTLE_BIN_DIR:?}
build=$(dirname "$bin")
dest=$(mktemp -d /tmp/shuttle-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT

DESTDIR=$dest cmake --install "$build" > /dev/null
for f in opt/cni/bin/shuttle usr/local/bin/shuttled usr/local/bin/shuttlectl \
    etc/systemd/system/shuttled.service usr/local/share/shuttle/10-shuttle.conflist; do
    [ -e "$dest/$f" ] || { echo "FAIL: cmake --install did not create /$f"; exit 1; }
done
"$dest/usr/local/bin/shuttled" --version | grep -q '^shuttled ' || { echo "FAIL: installed shuttled"; exit 1; }

conflist=$src/tools/install/10-shuttle.conflist
[ "$(jq -r '.plugins[0].type' "$conflist")" = shuttle ] || { echo "FAIL: conflist type"; exit 1; }
[ "$(jq -r '.name' "$conflist")" = cbr0 ] || { echo "FAIL: conflist keeps flannel's network name"; exit 1; }

kinds=$(/usr/bin/python3 -c 'import sys, yaml; print(" ".join(d["kind"] for d in yaml.safe_load_all(open(sys.argv[1])) if d))' \
    "$src/tools/install/shuttle-daemonset.yaml")
[ "$kinds" = "Namespace DaemonSet" ] || { echo "FAIL: manifest kinds: $kinds"; exit 1; }
echo "install files: ok"
