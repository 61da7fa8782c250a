"""The root filesystem of a box that runs the real glibc 2.17 (catalog boxes centos7-abi,
centos6-abi, centos5-abi: [providers.nspawn] root = "glibc-2.17").

No CentOS image is reachable from here, but ppbt's sysroot (harness/toolchain.py) holds a
runnable glibc 2.17. A root made of that runtime, Debian's static busybox and an SSH server
built with the same toolchain proves that what we build for EL7 runs against EL7's C
library, and, since glibc keeps every older symbol version, that what we build within EL6's
2.12 or EL5's 2.5 loads too. The sysroot's glibc lacks the compat symbols such builds ask for
(memcpy@GLIBC_2.2.5 and a few more); a preloaded library adds them back. No systemd and no
package database; PID 1 is svh-init (busybox sh), which gives host0 its address and runs
dropbear until SIGTERM. A box whose init is SysV also gets EL's script helpers (sysv_root.py), and
svh-init starts its enabled services, and stops them, as EL's rc does.

    build_root(dest, log, box)                 # assemble a complete root at dest (new dir)
    root_key()                                 # changes whenever build_root's output would
    init_argv("10.242.17.10", 24, gateway)     # PID 1's command line, for systemd-nspawn

    systemd-nspawn -q -D ROOT --register=no --keep-unit -M NAME --network-bridge=BR \\
        --kill-signal=SIGTERM --resolv-conf=off --timezone=off --link-journal=no \\
        --console=read-only /sbin/svh-init 10.242.17.10/24 [GATEWAY]

Without -b, nspawn SIGKILLs the container when it gets SIGTERM; --kill-signal=SIGTERM
lets svh-init stop its processes first instead.

Besides a shell, the transport runs `cat` (send_file and fetch, through the OpenSSH client),
`tar -x` (send_dir, send_tar) and SFTP (put_file of small files, read_text, write_text).
dropbear has no SFTP of its own, so the root also gets OpenSSH's sftp-server, built the
same way, at EL7's path. The compiled programs are cached under <build cache>/glibc-root/,
keyed by the pinned sources, the toolchain and the recipe: a second build compiles nothing.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ... import keys, platform, progress, toolchain
from ...aptsources import source_mirror
from ...catalog import Box
from ...errors import HarnessError, LoggedError
from ...runner import capture, tee
from ...sources import cache_root, digest, fetch_url, filling
from . import sysv_root

RECIPE = "glibc-root-v2"  # bump to recompile the cached SSH programs
SONAMES = [  # glibc's runtime plus libgcc_s: no headers, no static or linker-only files
    "ld-linux-x86-64.so.2",
    *toolchain.GLIBC_RUNTIME,
    "libnss_files.so.2",  # getpwnam & co. dlopen these: dropbear finds root through them
    "libnss_dns.so.2",
    "libgcc_s.so.1",
]
# busybox applets that would pretend to be a package manager or the init.
NOT_LINKED = {"dpkg", "dpkg-deb", "rpm", "rpm2cpio", "init", "linuxrc"}


@dataclass(frozen=True)
class Source:
    path: str  # under the Debian mirror
    sha256: str
    configure: tuple[str, ...]
    make: tuple[str, ...]
    installs: dict[str, str]  # built file -> where it goes in the root
    files: dict[str, str] = field(default_factory=dict)  # written into the tree first


# trixie's, not bookworm's 2022.83: that one aborts a session ("Failed assertion
# (common-channel.c:705): !channel->sent_close", mkj/dropbear#321, fixed by #326) as soon as
# paramiko opens a channel right after closing an SFTP one, which write_text then run does.
DROPBEAR = Source(
    path="pool/main/d/dropbear/dropbear_2025.89.orig.tar.bz2",
    sha256="0d1f7ca711cfc336dc8a85e672cab9cfd8223a02fe2da0a4a7aeb58c9e113634",
    configure=(
        "--disable-zlib",
        "--disable-pam",
        "--disable-lastlog",
        "--disable-utmp",
        "--disable-utmpx",
        "--disable-wtmp",
        "--disable-wtmpx",
        "--disable-pututline",
        "--disable-pututxline",
    ),
    make=("PROGRAMS=dropbear dropbearkey scp",),
    installs={
        "dropbear": "usr/sbin/dropbear",
        "dropbearkey": "usr/bin/dropbearkey",
        "scp": "usr/bin/scp",
    },
    files={
        "localoptions.h": '#define SFTPSERVER_PATH "/usr/libexec/openssh/sftp-server"\n'
        "#define DROPBEAR_SVR_PASSWORD_AUTH 0\n"
        "#define DO_MOTD 0\n"
    },
)
OPENSSH = Source(
    path="pool/main/o/openssh/openssh_9.2p1.orig.tar.gz",
    sha256="3f66dbf1655fb45f50e1c56da62ab01218c228807b21338d634ebcdf9d71cf46",
    configure=("--without-openssl", "--without-zlib", "--without-pam", "--without-libedit"),
    make=("sftp-server",),
    installs={"sftp-server": "usr/libexec/openssh/sftp-server"},
)
SOURCES = (DROPBEAR, OPENSSH)

# A real glibc keeps every old version of a symbol it changed, as a compat symbol (EL7's
# does); the toolchain's glibc 2.17 was built without them. What is linked within EL6's
# 2.12 or EL5's 2.5 asks for the old versions of the functions whose version changed
# after that: memcpy (2.14), posix_spawn and posix_spawnp (2.15), and pthread_atfork, which
# later glibcs keep only as a compat symbol. This library adds them back, each the same
# call as glibc's own compat symbol makes, preloaded by /etc/ld.so.preload.
COMPAT_LIBRARY = "usr/lib64/libsvh-compat.so"
COMPAT_SOURCE = """#include <spawn.h>
#include <stddef.h>
#include <string.h>
extern int __register_atfork(void (*)(void), void (*)(void), void (*)(void), void *);

void *svh_memcpy(void *dest, const void *src, size_t n) { return memmove(dest, src, n); }
int svh_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{ return posix_spawn(pid, path, actions, attr, argv, envp); }
int svh_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{ return posix_spawnp(pid, file, actions, attr, argv, envp); }
int svh_pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{ return __register_atfork(prepare, parent, child, NULL); }

__asm__(".symver svh_memcpy, memcpy@GLIBC_2.2.5");
__asm__(".symver svh_posix_spawn, posix_spawn@GLIBC_2.2.5");
__asm__(".symver svh_posix_spawnp, posix_spawnp@GLIBC_2.2.5");
__asm__(".symver svh_pthread_atfork, pthread_atfork@GLIBC_2.2.5");
"""
COMPAT_SYMBOLS = ("memcpy", "posix_spawn", "posix_spawnp", "pthread_atfork")
COMPAT_VERSIONS = f"GLIBC_2.2.5 {{ global: {'; '.join(COMPAT_SYMBOLS)}; local: *; }};\n"

INIT = r"""#!/bin/sh
# PID 1 of a glibc 2.17 box: lo and host0 up, then dropbear until SIGTERM/SIGINT (or busybox
# halt/poweroff: SIGUSR1/SIGUSR2). Usage: svh-init ADDRESS/PREFIX [GATEWAY]
# systemd-nspawn has mounted /proc, /sys, /dev, /run and /tmp already.
export PATH=/usr/sbin:/usr/bin
address=${1:?usage: svh-init ADDRESS/PREFIX [GATEWAY]}
gateway=${2:-}
umask 022
# A namespace's PID 1 only gets the signals it handles: trap them before anything else.
stopping=
sshd=
trap 'stopping=1; [ -z "$sshd" ] || kill -TERM "$sshd" 2>/dev/null' TERM INT USR1 USR2
mkdir -p /run/lock/subsys
ip link set lo up
# nspawn moves host0 in before it starts us; wait a little in case it is not there yet.
n=0
until ip link show host0 >/dev/null 2>&1; do
    n=$((n + 1))
    [ "$n" -gt 100 ] && { echo "svh-init: no host0 interface" >&2; exit 1; }
    sleep 0.05
done
ip addr add "$address" dev host0 && ip link set host0 up || exit 1
[ -z "$gateway" ] || ip route add default via "$gateway" || exit 1
# The box's own name resolves, as an installer leaves it on EL7 (no DNS beyond the bridge).
grep -q " $(hostname)\$" /etc/hosts || echo "${address%/*} $(hostname)" >> /etc/hosts
# Each instance makes its own host key on its first boot (a few milliseconds).
key=/etc/dropbear/dropbear_ed25519_host_key
[ -s "$key" ] || dropbearkey -t ed25519 -f "$key" >/dev/null 2>&1 || exit 1
[ -z "$stopping" ] || exit 0

dropbear -F -E -p 22 -W 1048576 -r "$key" -P /run/dropbear.pid &
sshd=$!
echo "svh-init: $address up, dropbear running"
# A SysV box (sysv_root.py) starts what is enabled in runlevel 3, as EL's rc does.
for s in /etc/rc.d/rc3.d/S*; do
    [ -x "$s" ] && "$s" start </dev/null
done
# `wait PID` returns when dropbear ends or a trapped signal comes, and meanwhile reaps every
# child that ends, orphans adopted by PID 1 included (a bare `wait` would also wait for those).
while kill -0 "$sshd" 2>/dev/null; do wait "$sshd"; done
# A SysV box's running services stop through their scripts, as EL's halt does.
for k in /etc/rc.d/rc0.d/K*; do
    [ -x "$k" ] && [ -f "/var/lock/subsys/${k##*/K??}" ] && "$k" stop </dev/null
done
# Then everybody else (a salt-minion daemon, login sessions): SIGTERM, up to 5 s to end.
kill -TERM -1 2>/dev/null
n=0
while [ "$n" -lt 50 ] && kill -0 -1 2>/dev/null; do
    sleep 0.1 &
    wait $!
    n=$((n + 1))
done
if [ -z "$stopping" ]; then
    echo "svh-init: dropbear ended on its own" >&2
    exit 1
fi
echo "svh-init: stopped"
"""

OS_RELEASE = """NAME="salt-venv-harness glibc 2.17 box"
ID=svh-glibc
ID_LIKE="centos rhel fedora"
VERSION_ID="{release}"
PRETTY_NAME="{box}: glibc 2.17 with busybox and dropbear, for CentOS {release} (not CentOS)"
"""

FILES = {  # path in the root -> (mode, text)
    "etc/passwd": (
        0o644,
        "root:x:0:0:root:/root:/bin/sh\n"
        "bin:x:1:1:bin:/bin:/sbin/nologin\n"
        "daemon:x:2:2:daemon:/sbin:/sbin/nologin\n"
        "nobody:x:99:99:Nobody:/:/sbin/nologin\n",
    ),
    # No password can match "*": root logs in with the harness key only.
    "etc/shadow": (
        0o000,
        "root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n"
        "daemon:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n",
    ),
    # tty is gid 5, as on EL7 and in nspawn's devpts mount (ptys for interactive logins).
    "etc/group": (
        0o644,
        "root:x:0:\nbin:x:1:\ndaemon:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\n"
        "wheel:x:10:\nnobody:x:99:\nusers:x:100:\n",
    ),
    "etc/shells": (0o644, "/bin/sh\n/usr/bin/sh\n"),  # dropbear refuses shells not listed
    # No DNS server is reachable: a name not in /etc/hosts is not found (Salt's fqdns
    # grain expects that answer; asking for DNS would say "try again" on every address).
    "etc/nsswitch.conf": (
        0o644,
        "passwd: files\nshadow: files\ngroup: files\nhosts: files\n",
    ),
    "etc/hosts": (
        0o644,
        "127.0.0.1   localhost localhost.localdomain\n::1         localhost6 localhost\n",
    ),
    "etc/resolv.conf": (0o644, ""),  # nothing beyond the bridge to ask
    "usr/sbin/svh-init": (0o755, INIT),
}
DIRS = {  # path in the root -> mode
    "dev": 0o755,
    "proc": 0o555,
    "sys": 0o555,
    "run": 0o755,
    "tmp": 0o1777,
    "var/tmp": 0o1777,
    "var/log": 0o755,
    "var/lib": 0o755,
    "var/cache": 0o755,
    "root": 0o550,
    "root/.ssh": 0o700,
    "home": 0o755,
    "opt": 0o755,
    "srv": 0o755,
    "etc/dropbear": 0o700,
    "usr/lib": 0o755,
    "usr/lib64": 0o755,
    "usr/bin": 0o755,
    "usr/sbin": 0o755,
    "usr/libexec/openssh": 0o755,
}
SYMLINKS = {  # EL7's merged /usr, plus what programs expect of /var and /etc
    "bin": "usr/bin",
    "sbin": "usr/sbin",
    "lib": "usr/lib",
    "lib64": "usr/lib64",
    "var/run": "../run",
    "var/lock": "../run/lock",
    "etc/mtab": "../proc/self/mounts",
    "usr/lib/ld-linux-x86-64.so.2": "../lib64/ld-linux-x86-64.so.2",
}


def init_argv(address: str, prefix: int, gateway: str | None = None) -> list[str]:
    """The container's command: PID 1 with the box's address (and default route, if any)."""
    return ["/sbin/svh-init", f"{address}/{prefix}", *([gateway] if gateway else [])]


def _busybox() -> Path:
    """The host's static busybox: it runs in any root, whatever that root's libc."""
    status = capture(["dpkg-query", "-W", "-f", "${Status} ${Version}", "busybox-static"]).stdout
    if not status.startswith("install ok installed") or not Path("/bin/busybox").is_file():
        raise HarnessError(
            "a glibc 2.17 box needs the host's busybox-static: "
            "apt-get install busybox-static (or ./run setup)"
        )
    return Path("/bin/busybox")


def _busybox_version() -> str:
    _busybox()
    return capture(["dpkg-query", "-W", "-f", "${Version}", "busybox-static"]).stdout


def _ssh_key() -> str:
    parts = (repr(s) for s in SOURCES)
    return digest(RECIPE, toolchain.WHEEL_SHA256, *parts, COMPAT_SOURCE, COMPAT_VERSIONS)[:16]


def root_key() -> str:
    """A digest of everything build_root's output depends on, for an image cache."""
    _, public_key = keys.ensure_key()
    here = Path(__file__).read_text() + Path(sysv_root.__file__).read_text()
    return digest(_ssh_key(), here, _busybox_version(), public_key)[:16]


def _mirror() -> str:
    return source_mirror("the dropbear and OpenSSH sources")


def _make(argv: list[str], cwd: Path, log: Path, what: str, env: dict[str, str]):
    with open(log, "a") as f:
        code = tee(argv, f, env=env, cwd=cwd)
    if code != 0:
        raise LoggedError(f"{what} failed (exit {code})", log)


def _compile(source: Source, tc: Path, work: Path, out: Path, log: Path):
    tarball = fetch_url(f"{_mirror()}/{source.path}", source.sha256, log)
    with tarfile.open(tarball) as tf:
        top = tf.getnames()[0].split("/")[0]
        tf.extractall(work, filter="tar")
    tree = work / top
    for name, text in source.files.items():
        (tree / name).write_text(text)
    bin_dir = tc / "bin"
    gcc = bin_dir / f"{toolchain.TRIPLET}-gcc"
    # The toolchain first on PATH, so configure takes its ar, ranlib and strip too.
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", LC_ALL="C")
    configure = ["./configure", f"--host={toolchain.TRIPLET}", f"CC={gcc}", *source.configure]
    _make(configure, tree, log, f"configure of {top}", env)
    _make(["make", f"-j{os.cpu_count() or 2}", *source.make], tree, log, f"make of {top}", env)
    for built, target in source.installs.items():
        dest = out / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tree / built, dest)
        # The sysroot's crt files tag every program "for Linux 5.16.9": EL7 runs 3.10.
        _make(
            [
                str(bin_dir / f"{toolchain.TRIPLET}-objcopy"),
                "--strip-unneeded",
                "--remove-section=.note.ABI-tag",
                str(dest),
            ],
            out,
            log,
            f"objcopy of {built}",
            env,
        )


def ssh_programs(log: Path) -> Path:
    """A tree (usr/...) holding dropbear, dropbearkey, scp and sftp-server for glibc 2.17,
    compiled once per recipe and cached."""
    final = cache_root() / "glibc-root" / f"ssh-{_ssh_key()}"
    if (final / DROPBEAR.installs["dropbear"]).is_file():
        return final
    tc = toolchain.ensure_toolchain(log)
    with (
        progress.step("glibc 2.17: compiling dropbear and sftp-server"),
        filling(final) as out,
        tempfile.TemporaryDirectory(prefix=".work-", dir=final.parent) as work,
    ):
        for source in SOURCES:
            _compile(source, tc, Path(work), out, log)
        _compile_compat(tc, Path(work), out, log)
    return final


def _compile_compat(tc: Path, work: Path, out: Path, log: Path):
    (work / "compat.c").write_text(COMPAT_SOURCE)
    (work / "compat.map").write_text(COMPAT_VERSIONS)
    (out / COMPAT_LIBRARY).parent.mkdir(parents=True, exist_ok=True)
    gcc = tc / "bin" / f"{toolchain.TRIPLET}-gcc"
    argv = [
        str(gcc),
        "-shared",
        "-fPIC",
        "-O2",
        "-nostartfiles",
        "-s",
        "-o",
        str(out / COMPAT_LIBRARY),
    ]
    argv += ["compat.c", "-Wl,--version-script=compat.map", "-Wl,-soname,libsvh-compat.so"]
    _make(argv, work, log, "the compat library's build", dict(os.environ, LC_ALL="C"))


def _copy_runtime(sysroot_lib: Path, lib64: Path, cxx_lib: Path):
    """glibc's runtime, and a libstdc++: EL7 has one (gcc 4.8's) that manylinux2014 wheels
    may use; this one is newer, and the ABI ceiling check holds what ours may need from it
    to EL7's versions (GLIBCXX_3.4.19)."""
    for soname in [*SONAMES, "libstdc++.so.6"]:
        link = (cxx_lib if soname == "libstdc++.so.6" else sysroot_lib) / soname
        real = link.resolve()
        shutil.copy2(real, lib64 / real.name)
        if real.name != soname:
            (lib64 / soname).symlink_to(real.name)


def _link_applets(busybox: Path, root: Path):
    shutil.copy2(busybox, root / "usr/bin/busybox")
    applets = capture([str(busybox), "--list-full"], check=True).stdout.split()
    for applet in applets:  # bin/ls, sbin/ip, usr/bin/awk, ...
        name = Path(applet).name
        where = "usr/sbin" if "sbin/" in applet else "usr/bin"
        link = root / where / name
        if name in NOT_LINKED or link.exists() or link.is_symlink():
            continue
        link.symlink_to("busybox" if where == "usr/bin" else "../bin/busybox")


def _install_ldd(sysroot: Path, root: Path):
    """glibc's ldd (the suites run it on every ELF), made a POSIX sh script: it is a bash
    script only for its translated messages ($"...")."""
    text = (sysroot / "usr/bin/ldd").read_text()
    text = text.replace("#! /bin/bash", "#!/bin/sh", 1).replace('$"', '"')
    (root / "usr/bin/ldd").write_text(text)
    (root / "usr/bin/ldd").chmod(0o755)
    shutil.copy2(sysroot / "usr/bin/getent", root / "usr/bin/getent")


def _layout(dest: Path, box: Box) -> None:
    """Directories, links and small files: the base's, and SysV's where the box has it."""
    sysv = platform.of(box).services.scripts_need_helpers
    dirs = {**DIRS, **(sysv_root.dirs() if sysv else {})}
    links = {**SYMLINKS, **(sysv_root.symlinks() if sysv else {})}
    files = {
        **FILES,
        "etc/os-release": (0o644, OS_RELEASE.format(box=box.name, release=box.release)),
        "etc/salt-venv-harness-box": (0o644, box.name + "\n"),
        "etc/ld.so.preload": (0o644, f"/{COMPAT_LIBRARY}\n"),
        **(sysv_root.files() if sysv else {}),
    }
    for path, mode in dirs.items():
        (dest / path).mkdir(parents=True, exist_ok=True)
        (dest / path).chmod(mode)
    for path, target in links.items():
        (dest / path).symlink_to(target)
    for path, (mode, text) in files.items():
        (dest / path).write_text(text)
        (dest / path).chmod(mode)


def build_root(dest: Path, log: Path, box: Box) -> None:
    """Assemble the root filesystem of `box` at `dest` (which must not exist yet)."""
    busybox = _busybox()
    programs = ssh_programs(log)
    tc = toolchain.ensure_toolchain(log)
    sysroot = toolchain.sysroot(tc)
    _, public_key = keys.ensure_key()
    dest.mkdir(parents=True)
    _layout(dest, box)
    _copy_runtime(sysroot / "lib", dest / "usr/lib64", tc / toolchain.TRIPLET / "lib64")
    shutil.copytree(programs / "usr", dest / "usr", dirs_exist_ok=True, symlinks=True)
    _link_applets(busybox, dest)
    _install_ldd(sysroot, dest)
    authorized = dest / "root/.ssh/authorized_keys"
    authorized.write_text(public_key + "\n")
    authorized.chmod(0o600)
    # The loader finds every library each program needs (ldd prints "not found" if not).
    programs_used = ["/usr/sbin/dropbear", "/usr/libexec/openssh/sftp-server", "/usr/bin/getent"]
    check = capture(["chroot", str(dest), "/usr/bin/ldd", *programs_used])
    if check.returncode != 0 or "not found" in check.stdout:
        with open(log, "a") as f:
            f.write(check.stdout + check.stderr)
        raise LoggedError(f"{box.name}: ldd of the new root's SSH programs failed", log)
