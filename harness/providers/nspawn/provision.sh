#!/bin/sh
# mmdebstrap customize hook: turn a fresh root ($1) into a harness box image.
# Runs on the host; $SVH_PUBKEY is the harness's public key.
set -eu
root="$1"
box="$2"
conflicts="$3"   # the box's distro conflict packages, space separated

# networkd brings up host0 with the static address each instance writes before boot.
chroot "$root" systemctl enable systemd-networkd.service
# Nothing to wait for, and timers that would wake up during tests.
chroot "$root" systemctl mask systemd-networkd-wait-online.service apt-daily.timer \
    apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer systemd-timesyncd.service \
    getty@tty1.service 2>/dev/null || true

install -d -m 700 "$root/root/.ssh"
printf '%s\n' "$SVH_PUBKEY" > "$root/root/.ssh/authorized_keys"
chmod 600 "$root/root/.ssh/authorized_keys"
install -d "$root/etc/ssh/sshd_config.d"
printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n' \
    > "$root/etc/ssh/sshd_config.d/harness.conf"

# The conflict packages' own .debs, so the suites can upgrade, downgrade, remove and
# reinstall them on a box that has no network (centos7-rpm has none).
install -d "$root/var/cache/salt-venv-harness/debs"
[ -z "$conflicts" ] || chroot "$root" sh -c \
    "cd /var/cache/salt-venv-harness/debs && apt-get -q -o APT::Sandbox::User=root download $conflicts"

# The host's name and resolver mean nothing inside a box.
rm -f "$root/etc/hostname"
: > "$root/etc/resolv.conf"
# An installed Debian names localhost in /etc/hosts (the installer writes it; no package
# does): without it "localhost" resolves nowhere, and a client of a daemon listening on
# 0.0.0.0 (Salt's own package tests reach salt-api that way) finds nothing there.
[ -e "$root/etc/hosts" ] || printf '%s\n' "127.0.0.1 localhost" \
    "::1 localhost ip6-localhost ip6-loopback" > "$root/etc/hosts"
echo "$box" > "$root/etc/salt-venv-harness-box"
