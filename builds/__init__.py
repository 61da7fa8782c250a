"""The build module: virtualenv Salt packages built on their target box (see build.py)."""


def build_packages(*args, **kwargs):
    """See builds.build.build_packages; imported lazily so `--list-defects` stays cheap."""
    from .build import build_packages as build

    return build(*args, **kwargs)
