"""systemd-nspawn boxes: image.py makes images, overlay.py the copy-on-write roots,
network.py the bridge and addresses, processes.py finds and stops containers by PID,
provider.py ties them into a Provider."""

from .provider import NspawnProvider

__all__ = ["NspawnProvider"]
