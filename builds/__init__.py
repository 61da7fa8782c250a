"""The build module: virtualenv Salt packages built on a build box (see build.py)."""
