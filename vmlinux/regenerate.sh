#!/usr/bin/env bash
# Regenerates vmlinux.h from the running kernel's BTF. The BPF programs are CO-RE, so
# the header only has to describe the types; relocations adapt them to any kernel.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$here/vmlinux.h"
