"""salt-pip in a venv Salt: what Salt's onedir has and a venv lacks.

Salt's `salt-pip` installs an admin's extra Python packages into `<root>/extras-X.Y`, and
refuses to run unless the interpreter is a relenv onedir (`sys.RELENV`, its root). The
payload gets the empty extras directory, a .pth that puts it on every /opt/salt process's
sys.path after site-packages (so an extra never shadows a bundled library), and a
`salt-pip` launcher (files/salt_pip.py) that names /opt/salt as the root for Salt's own
salt-pip code only (the rest of Salt keeps seeing a plain interpreter) and merges each
install into the extras, where pip's --target would skip a namespace already there.
"""

from __future__ import annotations

from pathlib import Path

from . import layout
from .remote import BoxRunner

PREFIX = layout.PREFIX
LAUNCHER = Path(__file__).with_name("files") / "salt_pip.py"
CARRY = Path(__file__).with_name("files") / "carry_extras.py"
# Salt's salt-pip as it comes, for a relenv root at /opt/salt: the defect salt-pip-target.
PLAIN_LAUNCHER = f"""#!{PREFIX}/bin/python3
import pathlib
import sys

sys.RELENV = pathlib.Path("{PREFIX}")
from salt.scripts import salt_pip

sys.exit(salt_pip())
"""


README = "Python packages an admin installs with salt-pip, for Salt's use only.\n"


def extras_dir(minor: str, prefix: str = PREFIX) -> str:
    return f"{prefix}/extras-{minor}"


def provide(runner: BoxRunner, minor: str, shape: layout.Shape = layout.VENV) -> None:
    prefix, carry = shape.prefix, shape.carry_extras
    site = f"{prefix}/lib/python{minor}/site-packages"
    extras = extras_dir(minor, prefix)
    runner.run(
        f"mkdir -p {extras} {carry.rpartition('/')[0]} && echo {extras} > {site}/salt-extras.pth",
        "salt-pip: the extras directory, its .pth and the launcher",
    )
    # The launcher names its root: the prefix it is installed in.
    launcher = LAUNCHER.read_text().replace(PREFIX, prefix)
    runner.machine.write_text(f"{prefix}/bin/salt-pip", launcher, 0o755)
    runner.machine.write_text(carry, CARRY.read_text(), 0o644)
    # A file of ours in the extras keeps them a directory: pip removes the directory it
    # empties when it uninstalls the last extra, and the package owns it.
    runner.machine.write_text(f"{extras}/README", README)
