"""A stand-in for packages.broadcom.com inside the box, so that Salt's upgrade and downgrade
tests run offline: their install_previous (tests/support/pkg.py) downloads Salt's signing key
from https://packages.broadcom.com/artifactory/api/security/keypair/SaltProjectKey/public,
adds `deb [signed-by=...] https://packages.broadcom.com/artifactory/saltproject-deb/ stable
main`, pins salt-* to the previous version and installs it with apt.

Here that repository holds our older line's onedir set, signed by a key made for the run;
the box's /etc/hosts sends the name to 127.0.0.1, where a small HTTPS server (the box's own
python3) serves the tree with a certificate of a certificate authority made for the run,
which the box's CA store trusts (apt's https method reads it, and requests does through
REQUESTS_CA_BUNDLE). Nothing of theirs is edited and the box reaches nothing outside.

    tree = build(older_set, workdir)      # on the host: repository, key, certificates
    serve(machine, tree)                  # in the box: copied, trusted, served
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import shutil
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.runner import capture
from harness.transport import Machine

from ..packages import PackageSet
from ..salt import wait_for_port

DOMAIN = "packages.broadcom.com"
REPO = "artifactory/saltproject-deb"  # under the document root, as on DOMAIN
KEY = "artifactory/api/security/keypair/SaltProjectKey/public"
ON_BOX = "/srv/artifactory-standin"  # the tree in the box: root/ is served
CA_ON_BOX = "/usr/local/share/ca-certificates/artifactory-standin.crt"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # what update-ca-certificates writes
SERVER = Path(__file__).with_name("artifactory_serve.py")
UNIT = "artifactory-standin"


def build(older: PackageSet, workdir: Path) -> Path:
    """The tree to serve: root/ (the signed repository of `older` and its key), ca.pem,
    server.pem and server.key."""
    tree = workdir / "artifactory-standin"
    shutil.rmtree(tree, ignore_errors=True)
    pool = tree / "root" / REPO / "pool" / "main"
    pool.mkdir(parents=True)
    for p in older.packages:
        shutil.copy2(older.directory / p.file, pool / p.file)
    debug_package(pool, older.salt_version, workdir / "salt-dbg")
    repository(tree / "root" / REPO, workdir / "gnupg", tree / "root" / KEY)
    certificates(tree)
    return tree


def debug_package(pool: Path, version: str, scratch: Path) -> None:
    """An empty salt-dbg of `version`: their install_previous installs Salt's debug symbols
    with the rest (Salt 3006.3 and newer), and our sets build none. No files and no
    dependencies, so that it stands beside any Salt of ours."""
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "DEBIAN").mkdir(parents=True)
    (scratch / "DEBIAN" / "control").write_text(
        f"Package: salt-dbg\nVersion: {version}\nArchitecture: amd64\n"
        "Maintainer: salt-venv-harness <salt-venv-harness@localhost>\n"
        "Description: stand-in for Salt's debug symbols (empty)\n"
    )
    out = pool / f"salt-dbg_{version}_amd64.deb"
    capture(["dpkg-deb", "--root-owner-group", "--build", str(scratch), str(out)], check=True)


def repository(repo: Path, gnupg: Path, public_key: Path) -> None:
    """dists/stable/{Release,InRelease,Release.gpg} and main/binary-amd64/Packages(.gz)."""
    binary = repo / "dists" / "stable" / "main" / "binary-amd64"
    binary.mkdir(parents=True)
    scanned = capture(["dpkg-scanpackages", "--multiversion", "pool"], cwd=repo, check=True)
    (binary / "Packages").write_text(scanned.stdout)
    (binary / "Packages.gz").write_bytes(gzip.compress(scanned.stdout.encode(), mtime=0))
    release = repo / "dists" / "stable" / "Release"
    release.write_text(release_text(repo / "dists" / "stable"))
    shutil.rmtree(gnupg, ignore_errors=True)
    gnupg.mkdir(mode=0o700, parents=True)
    try:
        sign(release, gnupg, public_key)
    finally:  # gpg started an agent for the key: it would outlive the run
        capture(["gpgconf", "--homedir", str(gnupg), "--kill", "gpg-agent"])


def sign(release: Path, gnupg: Path, public_key: Path) -> None:
    """InRelease and Release.gpg by a key made for the run; its public half exported."""
    gpg = ["gpg", "--homedir", str(gnupg), "--batch", "--pinentry-mode", "loopback"]
    uid = "Salt Project stand-in <artifactory-standin@salt-venv-harness.invalid>"
    capture(
        [*gpg, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"], check=True
    )
    capture(
        [*gpg, "--clearsign", "-o", str(release.with_name("InRelease")), str(release)], check=True
    )
    capture([*gpg, "-abs", "-o", str(release.with_name("Release.gpg")), str(release)], check=True)
    public_key.parent.mkdir(parents=True)
    public_key.write_text(capture([*gpg, "--armor", "--export"], check=True).stdout)


def release_text(dist: Path) -> str:
    files = sorted(p for p in dist.rglob("Packages*") if p.is_file())
    lines = [
        "Origin: SaltProject",
        "Label: SaltProject (stand-in)",
        "Suite: stable",
        "Codename: stable",
        "Architectures: amd64 all",
        "Components: main",
        f"Date: {datetime.datetime.now(datetime.UTC):%a, %d %b %Y %H:%M:%S UTC}",
        "SHA256:",
    ]
    for f in files:
        data = f.read_bytes()
        name = f.relative_to(dist)
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data):>10} {name}")
    return "\n".join(lines) + "\n"


def certificates(tree: Path) -> None:
    """A certificate authority of the run, and DOMAIN's certificate signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "salt-venv-harness stand-in CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # What a strict verifier (Python 3.13's default context) asks of a leaf: the key
        # identifiers that tie it to its authority, and what it is for.
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (tree / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tree / "server.pem").write_bytes(server.public_bytes(pem))
    (tree / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def serve(machine: Machine, tree: Path) -> None:
    """Copy the tree into the box, trust its authority, point DOMAIN at the box itself and
    serve it on 127.0.0.1:443 (a transient unit, gone with the box)."""
    machine.send_dir(tree, ON_BOX)
    machine.put_file(SERVER, f"{ON_BOX}/serve.py")
    machine.run(
        f"cp {ON_BOX}/ca.pem {CA_ON_BOX} && update-ca-certificates >/dev/null && "
        f"echo '127.0.0.1 {DOMAIN}' >> /etc/hosts && "
        f"systemd-run --unit={UNIT} --quiet /usr/bin/python3 {ON_BOX}/serve.py {ON_BOX}"
    )
    wait_for_port(machine, 443, timeout=10)
