"""The harness's own SSH key pair, made once and baked into every image."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import paths


def key_path() -> Path:
    return paths.cache_dir() / "keys" / "id_ed25519"


def ensure_key() -> tuple[Path, str]:
    """Return (private key path, public key line), creating the pair if needed."""
    private = key_path()
    public = private.with_suffix(".pub")
    if not (private.exists() and public.exists()):
        private.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        pub = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        tmp = private.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        public.write_text(pub.decode() + " salt-venv-harness\n")
        tmp.rename(private)
    return private, public.read_text().strip()
