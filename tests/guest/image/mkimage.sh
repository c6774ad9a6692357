#!/usr/bin/env bash
# Builds an L2 guest image for the nested observe tests (issue 14; shared by issue 15):
# Debian's kernel, a busybox initramfs whose /init runs a workload script, and a small raw
# disk for virtio-blk.
#
#   mkimage.sh OUTDIR WORKLOAD [DISK_MIB]
#
# OUTDIR gets: vmlinuz (the host's /boot/vmlinuz-*-amd64, package linux-image-amd64),
# initrd.gz (busybox-static, the virtio modules in dependency order, WORKLOAD as
# /workload.sh), disk.img (DISK_MIB MiB, default 16, zero-filled raw) and modules.txt (the
# load order). /init mounts proc/sys/dev, loads the modules, then execs the workload with the
# kernel command line's parameters in its environment (the kernel passes unknown name=value
# words to init as environment variables, e.g. workload_seconds=30). VIRQ_IMAGE_MODULES
# overrides the module list (names, without .ko).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUTDIR WORKLOAD [DISK_MIB]" >&2; exit 2; }
out=$1 workload=$2 disk_mib=${3:-16}
[ -f "$workload" ] || { echo "$0: no workload $workload" >&2; exit 1; }
kernel=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || { echo "$0: no /boot/vmlinuz-*-amd64 (package linux-image-amd64)" >&2; exit 1; }
kver=${kernel#/boot/vmlinuz-}
mdir=/lib/modules/$kver
[ -f "$mdir/modules.dep" ] || { echo "$0: no $mdir/modules.dep" >&2; exit 1; }
bb=$(command -v busybox) || { echo "$0: busybox missing (package busybox-static)" >&2; exit 1; }
# A dynamically linked busybox would need its libraries in the image.
if ldd "$bb" >/dev/null 2>&1; then
	echo "$0: $bb is not static (package busybox-static)" >&2
	exit 1
fi
# shellcheck disable=SC2206
want=(${VIRQ_IMAGE_MODULES:-virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev
	virtio_pci virtio_blk failover net_failover virtio_net})

mkdir -p "$out"
root=$(mktemp -d "${TMPDIR:-/tmp}/virq-image.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,proc,sys,dev,tmp,run,lib/modules}

# Module load order: each module after what modules.dep says it needs (a depth-first walk;
# modules.dep lists a module's dependencies, direct and indirect, on its line).
declare -A dep path done_
while IFS= read -r line; do
	m=${line%%:*}
	n=$(basename "$m")
	n=${n%%.ko*}
	n=${n//-/_}
	path[$n]=$m
	dep[$n]=${line#*:}
done <"$mdir/modules.dep"
order=()
visit() {
	local n=${1//-/_} d dn
	[ -z "${done_[$n]:-}" ] || return 0
	[ -n "${path[$n]:-}" ] || { echo "$0: $n not in $mdir/modules.dep" >&2; exit 1; }
	done_[$n]=1
	for d in ${dep[$n]}; do
		dn=$(basename "$d")
		dn=${dn%%.ko*}
		visit "$dn"
	done
	order+=("$n")
}
for m in "${want[@]}"; do visit "$m"; done
i=0
: >"$out/modules.txt"
for n in "${order[@]}"; do
	i=$((i + 1))
	f=$mdir/${path[$n]}
	dst=$root/lib/modules/$(printf %02d $i)-$n.ko
	case $f in
	*.xz) xz -dc "$f" >"$dst" ;;
	*.zst) zstd -dcq "$f" >"$dst" ;;
	*.gz) gzip -dc "$f" >"$dst" ;;
	*) cp "$f" "$dst" ;;
	esac
	echo "$n" >>"$out/modules.txt"
done

cp "$bb" "$root/bin/busybox"
for a in $("$bb" --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
cp "$workload" "$root/workload.sh"
chmod +x "$root/workload.sh"
cat >"$root/init" <<-'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
for m in /lib/modules/*.ko; do insmod $m || echo "@@init@@ insmod $m failed"; done
echo "@@init@@ modules loaded"
exec /bin/sh /workload.sh
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -9) >"$out/initrd.gz"
cp "$kernel" "$out/vmlinuz"
truncate -s 0 "$out/disk.img"
truncate -s "${disk_mib}M" "$out/disk.img"
