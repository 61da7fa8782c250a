"""Vagrant VMs (python-vagrant): host.py probes the host and calls Vagrant, boxes.py and
offline_box.py provide boxes, project.py writes each instance's project, libvirt.py and
libvirt_daemons.py look after libvirt, provider.py ties them into a Provider."""

import logging

# python-vagrant warns at import when vagrant is missing; unavailable_reason() says it in
# one line. Set before any module of this package imports it.
logging.getLogger("vagrant").setLevel(logging.ERROR)

from .provider import VagrantProvider  # noqa: E402

__all__ = ["VagrantProvider"]
