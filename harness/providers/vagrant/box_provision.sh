#!/bin/sh
# Runs inside a copy of a box's nspawn root (systemd-nspawn, host network) and turns it
# into the root of a libvirt VM: kernel + small initramfs for direct boot, user vagrant
# with Vagrant's insecure key and passwordless sudo, DHCP on the first NIC.
# $1: the box name. The insecure public key is at /var/tmp/vagrant.pub (nspawn mounts a tmpfs on /tmp).
set -eu
box="$1"
export DEBIAN_FRONTEND=noninteractive

# Direct kernel boot from a virtio disk: the initramfs needs only these (and boots faster
# under software emulation than one with every driver).
mkdir -p /etc/initramfs-tools/conf.d
printf 'virtio_pci\nvirtio_blk\nvirtio_net\next4\n' >> /etc/initramfs-tools/modules
printf 'MODULES=list\nCOMPRESS=gzip\n' > /etc/initramfs-tools/conf.d/salt-venv-harness.conf
apt-get update -qq
apt-get install -y -qq --no-install-recommends linux-image-amd64 initramfs-tools sudo \
    libnss-myhostname
apt-get clean

useradd -m -s /bin/bash vagrant
install -d -m 700 -o vagrant -g vagrant /home/vagrant/.ssh
install -m 600 -o vagrant -g vagrant /var/tmp/vagrant.pub /home/vagrant/.ssh/authorized_keys
rm /var/tmp/vagrant.pub
printf 'vagrant ALL=(ALL) NOPASSWD: ALL\n' > /etc/sudoers.d/vagrant
chmod 440 /etc/sudoers.d/vagrant

printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' \
    > /etc/systemd/network/20-vagrant.network
systemctl enable systemd-networkd.service ssh.service
printf '/dev/vda / ext4 defaults 0 1\n' > /etc/fstab
# Empty: each VM makes its own at first boot (DHCP client ids derive from it).
: > /etc/machine-id
echo "$box" > /etc/hostname
: > /etc/resolv.conf
