"""SSH transport: every box, whatever started it, is reached over paramiko as root, or as a
user with passwordless sudo (Vagrant boxes log in as vagrant) whose commands run as root."""

from __future__ import annotations

import select
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import paramiko

from .errors import BoxTimeout, CommandError, SessionLost

if TYPE_CHECKING:
    from .catalog import Box
    from .state import Instance

BULK_BYTES = 1 << 20  # files above this go through the OpenSSH client
SSH_FAILED = 255  # the OpenSSH client's exit when the connection (not the command) failed
TREE_CHANGED = "changed as we read it"  # GNU tar, when the box writes into what it copies
# A box that dies without closing its connections (its network namespace is gone) must not
# leave a command waiting: keepalives every few seconds, and the kernel drops a connection
# whose packets go unanswered for DEAD_PEER seconds.
KEEPALIVE = 5
DEAD_PEER = 30
# A login again after a dropped session: short, since sshd that is gone stays gone.
RECONNECT_TIMEOUT = 15.0


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str
    key_file: str
    sudo: bool = False  # commands run through `sudo -n` (a non-root login such as vagrant)
    # Seconds one SSH handshake may take: a VM under software emulation on a busy host
    # needs many times a container's.
    handshake_timeout: float = 5.0

    def ssh_argv(self) -> list[str]:
        """OpenSSH client arguments for an interactive session (like `vagrant ssh`)."""
        return [
            "ssh",
            "-i",
            self.key_file,
            "-p",
            str(self.port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            f"{self.user}@{self.host}",
        ]

    def batch_ssh_argv(self) -> list[str]:
        """OpenSSH client arguments for bulk copies: no prompts, no compression (payloads are
        compressed already), a connect timeout that fits the box."""
        argv = self.ssh_argv()
        argv[1:1] = [
            "-o",
            "BatchMode=yes",
            "-o",
            "Compression=no",
            "-o",
            f"ConnectTimeout={max(10, self.handshake_timeout):.0f}",
            "-o",
            f"ServerAliveInterval={KEEPALIVE}",
            "-o",
            f"ServerAliveCountMax={DEAD_PEER // KEEPALIVE}",
        ]
        return argv


@dataclass(frozen=True)
class Result:
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


def wait_for_banner(host: str, port: int, deadline: float, recv_timeout: float = 1.0) -> bool:
    """True once sshd answers with its banner: cheaper than a full handshake per try."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5) as sock:
                sock.settimeout(recv_timeout)
                if sock.recv(4).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _detect_dead_peer(client: paramiko.SSHClient) -> None:
    transport = client.get_transport()
    assert transport is not None
    transport.set_keepalive(KEEPALIVE)
    transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, DEAD_PEER * 1000)


class Machine:
    """A box reached over SSH: run commands, move files."""

    def __init__(
        self,
        name: str,
        endpoint: Endpoint,
        spec: Box,
        instance: Instance | None = None,
    ):
        self.name = name
        self.endpoint = endpoint
        self.spec = spec  # what the box is: its catalog entry
        self.instance = instance  # the running instance behind it, when the harness started it
        self._client: paramiko.SSHClient | None = None
        self._lost: str | None = None  # why the session dropped and a new login failed
        self.actions = 0  # commands run and files copied: unchanged means the box is untouched

    def __repr__(self):
        e = self.endpoint
        return f"Machine({self.name!r}, {e.user}@{e.host}:{e.port})"

    def connect(self, timeout: float = 60.0) -> Machine:
        patience = self.endpoint.handshake_timeout
        timeout = max(timeout, 2 * patience)
        deadline = time.monotonic() + timeout
        if not wait_for_banner(self.endpoint.host, self.endpoint.port, deadline, patience / 5):
            raise BoxTimeout(
                f"box {self.name}: sshd at {self.endpoint.host}:{self.endpoint.port} "
                f"did not answer within {timeout:.0f}s"
            )
        key = paramiko.PKey.from_path(self.endpoint.key_file)
        last_error = None
        while time.monotonic() < deadline:
            client = paramiko.SSHClient()
            # Boxes are throwaway and share image host keys: there is nothing to pin.
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            try:
                client.connect(
                    self.endpoint.host,
                    port=self.endpoint.port,
                    username=self.endpoint.user,
                    pkey=key,
                    timeout=patience,
                    banner_timeout=patience,
                    auth_timeout=patience,
                    allow_agent=False,
                    look_for_keys=False,
                )
                self._client = client
                self._lost = None
                _detect_dead_peer(client)
                return self
            except (paramiko.SSHException, OSError) as e:
                last_error = e
                client.close()
                time.sleep(0.1)
        raise BoxTimeout(
            f"box {self.name}: SSH login as {self.endpoint.user} failed "
            f"within {timeout:.0f}s ({last_error})"
        )

    @property
    def client(self) -> paramiko.SSHClient:
        """The session; opened again when it dropped. When that fails, every later call
        fails at once with the same line instead of waiting for sshd again."""
        if self._lost:
            raise SessionLost(self._lost)
        transport = self._client.get_transport() if self._client else None
        if transport is None or not transport.is_active():
            dropped = self._client is not None
            try:
                self.connect(RECONNECT_TIMEOUT if dropped else 60.0)
            except BoxTimeout as e:
                if not dropped:
                    raise
                self._lost = (
                    f"box {self.name}: SSH session lost and a new login failed "
                    f"(sshd in the box ended, or the box died): {e}"
                )
                raise SessionLost(self._lost) from None
        assert self._client is not None
        return self._client

    def _transport(self) -> paramiko.Transport:
        transport = self.client.get_transport()
        assert transport is not None  # client connects until it has one
        return transport

    def close(self):
        if self._client:
            self._client.close()
            self._client = None

    def as_root(self, command: str) -> str:
        """`command` as the box's root runs it: unchanged for root logins."""
        if not self.endpoint.sudo:
            return command
        return f"sudo -n sh -c {shlex.quote(command)}"

    def run(
        self,
        command: str,
        check: bool = True,
        timeout: float | None = None,
        stdin: bytes | None = None,
    ) -> Result:
        """Run `command` with sh on the box; raise CommandError when check and it fails."""
        out, err = bytearray(), bytearray()
        status = self._exec(command, out.extend, err.extend, timeout, stdin)
        result = Result(status, out.decode(errors="replace"), err.decode(errors="replace"))
        if check and status != 0:
            raise CommandError(self.name, command, status, result.stdout, result.stderr)
        return result

    def run_streaming(self, command: str, out, err, timeout: float | None = None) -> int:
        """Run `command` copying its output to the binary file objects `out` and `err`."""

        def writer(stream):
            def write(data):
                stream.write(data)
                stream.flush()

            return write

        return self._exec(command, writer(out), writer(err), timeout, None)

    def _exec(self, command, on_out, on_err, timeout, stdin) -> int:
        self.actions += 1
        try:
            chan = self._transport().open_session()
        except (EOFError, OSError, paramiko.SSHException) as e:  # it dropped just now
            raise SessionLost(
                f"box {self.name}: SSH session lost as `{command}` started "
                f"(sshd in the box ended or restarted, or the box died: {e!r})"
            ) from None
        try:
            chan.exec_command(self.as_root(command))
            if stdin is not None:
                chan.sendall(stdin)
            chan.shutdown_write()
            deadline = time.monotonic() + timeout if timeout else None
            # Read both streams as they come so neither pipe fills up and stalls the command.
            while not (
                chan.exit_status_ready()
                and chan.eof_received
                and not chan.recv_ready()
                and not chan.recv_stderr_ready()
            ):
                select.select([chan], [], [], 0.5)
                while chan.recv_ready():
                    on_out(chan.recv(65536))
                while chan.recv_stderr_ready():
                    on_err(chan.recv_stderr(65536))
                if chan.closed:  # all read: a dropped session, or the box closed the channel
                    if not chan.get_transport().is_active():
                        raise SessionLost(
                            f"box {self.name}: SSH session dropped while running `{command}` "
                            "(sshd in the box ended or restarted, or the box died)"
                        )
                    break
                if deadline and time.monotonic() > deadline:
                    raise CommandError(
                        self.name, command, f"no exit after {timeout:.0f}s (timed out)"
                    )
            return chan.recv_exit_status()
        finally:
            chan.close()

    def put_file(self, local: str | Path, remote: str, mode: int | None = None):
        if Path(local).stat().st_size > BULK_BYTES and shutil.which("ssh"):
            self.send_file(local, remote, mode)
            return
        if self.endpoint.sudo:  # sftp runs as the login user: go through root's shell
            self.run(f"cat > {shlex.quote(remote)}", stdin=Path(local).read_bytes())
            if mode is not None:
                self.run(f"chmod {mode:o} {shlex.quote(remote)}")
            return
        with self._sftp(f"copy {local} -> {remote}") as sftp:
            sftp.put(str(local), remote)
            if mode is not None:
                sftp.chmod(remote, mode)

    @contextmanager
    def _sftp(self, what: str) -> Iterator[paramiko.SFTPClient]:
        """An SFTP session. One that drops meanwhile (sshd ended, the box died) is
        SessionLost, as for a command; an error with the session alive is the error."""
        self.actions += 1
        try:
            with self.client.open_sftp() as sftp:
                yield sftp
        except (EOFError, OSError, paramiko.SSHException) as e:
            transport = self._client.get_transport() if self._client else None
            if transport is not None and transport.is_active():
                raise
            raise SessionLost(
                f"box {self.name}: SSH session dropped while running `{what}` "
                f"(sshd in the box ended or restarted, or the box died: {e!r})"
            ) from None

    # ---- bulk copies through the OpenSSH client: paramiko's pure-Python cipher moves a
    # 50 MB package in ~20 s, ssh in under a second.
    def _ssh_pipe(self, command: str, what: str, stdin: IO | None = None, stdout: IO | None = None):
        self.actions += 1
        argv = [*self.endpoint.batch_ssh_argv(), self.as_root(command)]
        proc = subprocess.run(
            argv, stdin=stdin, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        said = proc.stderr.decode(errors="replace")
        if proc.returncode == SSH_FAILED:  # cat, tar and mkdir never exit 255: ssh itself did
            why = (said.strip().splitlines() or ["no word from ssh"])[-1]
            raise SessionLost(
                f"box {self.name}: SSH session dropped while running `{what}` "
                f"(sshd in the box ended or restarted, or the box died: {why})"
            )
        if proc.returncode != 0:
            raise CommandError(self.name, what, proc.returncode, "", said)

    def send_file(self, local: str | Path, remote: str, mode: int | None = None):
        """Copy a (large) local file to `remote` on the box."""
        q = shlex.quote(remote)
        command = f"cat > {q}" + (f" && chmod {mode:o} {q}" if mode is not None else "")
        with open(local, "rb") as src:
            self._ssh_pipe(command, f"copy {local} -> {remote}", stdin=src)

    def send_tar(self, local_tar: str | Path, remote_dir: str):
        """Unpack a local tarball into remote_dir on the box."""
        q = shlex.quote(remote_dir)
        with open(local_tar, "rb") as src:
            self._ssh_pipe(
                f"mkdir -p {q} && tar -x -C {q} -f -", f"unpack {local_tar} -> {remote_dir}", src
            )

    def send_dir(self, local_dir: str | Path, remote_dir: str):
        """Copy the contents of local_dir into remote_dir on the box, as one tar stream."""
        q = shlex.quote(remote_dir)
        remote = f"mkdir -p {q} && tar -x -C {q} -f -"
        local = ["tar", "-C", str(local_dir), "-cf", "-", "."]
        self._tar_stream(local, remote, f"copy {local_dir}/ -> {remote_dir}", upload=True)

    def fetch_tree(self, remote_dir: str, local_dir: str | Path, attempts: int = 3):
        """Copy remote_dir from the box into local_dir (as local_dir/<its path>).

        A copy during which the box wrote into the tree (a running minion compiling
        bytecode) is not one moment's view: it is taken again, and after `attempts` the
        error says what happened."""
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        remote = f"tar -C / -cf - {shlex.quote(remote_dir.lstrip('/'))}"
        local = ["tar", "-x", "-C", str(local_dir)]
        what = f"copy {remote_dir} <- box"
        for attempt in range(1, attempts + 1):
            try:
                return self._tar_stream(local, remote, what, upload=False)
            except CommandError as e:
                if TREE_CHANGED not in e.stderr:
                    raise
                if attempt == attempts:
                    raise CommandError(
                        self.name,
                        f"{what} ({attempts} tries: the box kept writing into {remote_dir} "
                        "while it was copied; stop what writes there first)",
                        e.exit_status,
                        stderr=e.stderr,
                    ) from None

    def _tar_stream(self, local: list[str], remote: str, what: str, upload: bool):
        """A local tar and a remote command joined by one pipe, in either direction."""
        with tempfile.TemporaryFile() as errors:
            if upload:
                tar = subprocess.Popen(local, stdout=subprocess.PIPE, stderr=errors)
                end = tar.stdout
            else:
                tar = subprocess.Popen(local, stdin=subprocess.PIPE, stderr=errors)
                end = tar.stdin
            assert end is not None
            try:
                if upload:
                    self._ssh_pipe(remote, what, stdin=end)
                else:
                    self._ssh_pipe(remote, what, stdout=end)
            finally:
                end.close()
                tar.wait()
            if tar.returncode:
                errors.seek(0)
                said = errors.read().decode(errors="replace")
                raise CommandError(
                    f"{self.name} (host side)", " ".join(local), tar.returncode, stderr=said
                )

    def fetch(self, remote: str, local: str | Path):
        """Copy one file from the box to `local` (removed again if the copy fails)."""
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(local, "wb") as out:
                self._ssh_pipe(f"cat {shlex.quote(remote)}", f"copy {remote} <- box", stdout=out)
        except CommandError:
            Path(local).unlink(missing_ok=True)
            raise

    def write_text(self, remote: str, text: str, mode: int = 0o644):
        if self.endpoint.sudo:
            q = shlex.quote(remote)
            self.run(f"cat > {q} && chmod {mode:o} {q}", stdin=text.encode())
            return
        with self._sftp(f"write {remote}") as sftp:
            with sftp.open(remote, "w") as f:
                f.write(text)
            sftp.chmod(remote, mode)

    def read_text(self, remote: str) -> str:
        if self.endpoint.sudo:
            return self.run(f"cat {shlex.quote(remote)}").stdout
        with self.client.open_sftp() as sftp, sftp.open(remote, "r") as f:
            return f.read().decode(errors="replace")
