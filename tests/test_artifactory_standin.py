"""The stand-in for packages.broadcom.com (verification/peer/artifactory.py), on the host: its
repository is one apt accepts (signed, the signature checked by gpgv against the key it
serves), and its certificate is one a client trusting its authority accepts for the name."""

from __future__ import annotations

import gzip
import ssl
import subprocess
from pathlib import Path

from verification.peer import artifactory


def test_the_repository_is_signed_by_the_key_it_serves_and_lists_its_packages(tmp_path):
    repo = tmp_path / "root" / artifactory.REPO
    pool = repo / "pool" / "main"
    pool.mkdir(parents=True)
    artifactory.debug_package(pool, "3007.16", tmp_path / "dbg")
    key = tmp_path / "root" / artifactory.KEY
    artifactory.repository(repo, tmp_path / "gnupg", key)
    agent = f"gpg-agent --homedir {tmp_path / 'gnupg'} "
    left = subprocess.run(["pgrep", "-f", agent], capture_output=True, text=True).stdout
    assert not left, f"the signing left its gpg-agent running: {left}"
    keyring = tmp_path / "key.gpg"
    keyring.write_bytes(
        subprocess.run(["gpg", "--dearmor"], input=key.read_bytes(), capture_output=True).stdout
    )
    stable = repo / "dists" / "stable"
    checked = subprocess.run(
        ["gpgv", "--keyring", str(keyring), str(stable / "InRelease")], capture_output=True
    )
    assert checked.returncode == 0, checked.stderr
    packages = gzip.decompress((stable / "main/binary-amd64/Packages.gz").read_bytes()).decode()
    assert "Package: salt-dbg\nVersion: 3007.16\n" in packages
    assert "Filename: pool/main/salt-dbg_3007.16_amd64.deb" in packages
    release = (stable / "Release").read_text()
    assert "Suite: stable" in release and " main/binary-amd64/Packages.gz" in release


def test_the_certificate_is_accepted_for_the_name_by_a_client_trusting_the_authority(tmp_path):
    artifactory.certificates(tmp_path)
    assert handshake(tmp_path, artifactory.DOMAIN) is None
    refused = handshake(tmp_path, "example.org")
    assert isinstance(refused, ssl.SSLCertVerificationError), refused


def handshake(tree: Path, name: str) -> Exception | None:
    """A TLS handshake in memory between the stand-in's certificate and a client that
    trusts only the stand-in's authority, for host `name`: None, or the client's error."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tree / "server.pem", tree / "server.key")
    client_context = ssl.create_default_context(cafile=str(tree / "ca.pem"))
    # As Python 3.13's default context checks (debian13's requests): RFC 5280's rules, such
    # as an Authority Key Identifier in every certificate an authority signed.
    client_context.verify_flags |= ssl.VERIFY_X509_STRICT
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_context.wrap_bio(to_server, to_client, server_side=True)
    client = client_context.wrap_bio(to_client, to_server, server_hostname=name)
    for _ in range(10):
        for side in (client, server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as e:
                if side is client:
                    return e
                raise
        if client.version() and server.version():
            return None
    raise AssertionError("the handshake did not finish")
