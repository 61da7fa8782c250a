"""salt-venv-harness: build virtualenv Salt packages and prove them on real boxes."""
