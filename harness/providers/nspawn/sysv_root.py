"""EL5/EL6's SysV init, as much of it as an init script and the checks use, for a minimal
root (the glibc 2.17 boxes with init = "sysv": centos6-abi, centos5-abi).

No initscripts package is reachable here, so the root gets small stand-ins of EL's shape,
POSIX sh for busybox (EL's are bash):
- /etc/rc.d/init.d/functions: daemon, killproc, status, pidofproc, success, failure, with
  EL6's exit codes (status: 0 running, 1 dead with a pid file, 2 dead with a subsys lock,
  3 stopped; killproc of a stopped program: 0 after "FAILED", as EL's does without LSB=1);
- /sbin/service NAME ACTION: the script in a clean environment, as EL's does;
- /sbin/chkconfig: --add, --del, --list [NAME], NAME on|off [--level LEVELS], from the
  script's `# chkconfig: LEVELS START STOP` header, as S/K links in /etc/rc.d/rcN.d.
svh-init (glibc_root.py) runs rc3.d's S scripts after the network is up and, when it stops,
rc0.d's K scripts of each service whose /var/lock/subsys file exists: a reboot starts what
is enabled, as EL's rc does.

    files()    # {path in the root: (mode, text)}
    dirs()     # {path in the root: mode}
"""

from __future__ import annotations

FUNCTIONS = r"""# /etc/rc.d/init.d/functions: a POSIX sh stand-in for EL's (initscripts), with its
# names, arguments and exit codes, for the salt-venv-harness glibc boxes.
PATH=/sbin:/usr/sbin:/bin:/usr/bin
export PATH

success() { printf '[  OK  ]\r'; return 0; }
failure() { rc=$?; printf '[FAILED]\r'; return $rc; }
echo_success() { success; }
echo_failure() { failure; }

checkpid() {  # PID...: 0 if any of them runs
    for p in "$@"; do [ -d "/proc/$p" ] && return 0; done
    return 1
}

__pids_var_run() {  # BASE [PIDFILE]: sets pid; 0 running, 1 dead with pid file, 3 no file
    pid_file=${2:-/var/run/$1.pid}
    pid=
    [ -f "$pid_file" ] || return 3
    [ -r "$pid_file" ] || return 4
    for p in $(cat "$pid_file"); do
        [ -d "/proc/$p" ] && pid="$pid $p"
    done
    pid=${pid# }
    [ -n "$pid" ] && return 0
    return 1
}

pidofproc() {  # [-p PIDFILE] PROGRAM
    pf=
    [ "$1" = "-p" ] && { pf=$2; shift 2; }
    __pids_var_run "${1##*/}" "$pf"
    rc=$?
    [ -n "$pid" ] && echo "$pid"
    return $rc
}

daemon() {  # [--pidfile=F] [--user=U] [--force] PROGRAM ARGS...
    pf= force= user=
    while [ $# -gt 0 ]; do
        case $1 in
            --pidfile=*) pf=${1#--pidfile=} ;;
            --pidfile) pf=$2; shift ;;
            --user=*) user=${1#--user=} ;;
            --force) force=1 ;;
            *) break ;;
        esac
        shift
    done
    base=${1##*/}
    __pids_var_run "$base" "$pf"
    [ -n "$pid" ] && [ -z "$force" ] && return 0
    if [ -n "$user" ]; then su -s /bin/sh -c "$*" "$user"; else "$@"; fi
    [ $? -eq 0 ] && success || failure
}

killproc() {  # [-p PIDFILE] [-d DELAY] PROGRAM [SIGNAL]
    pf= delay=3
    while [ $# -gt 0 ]; do
        case $1 in
            -p) pf=$2; shift 2 ;;
            -d) delay=$2; shift 2 ;;
            *) break ;;
        esac
    done
    base=${1##*/}
    signal=$2
    __pids_var_run "$base" "$pf"
    if [ -z "$pid" ]; then
        failure
        return 0
    fi
    if [ -n "$signal" ]; then
        kill "$signal" $pid
        return $?
    fi
    kill -TERM $pid 2>/dev/null
    n=0
    while checkpid $pid && [ $n -lt $((delay * 10 + 10)) ]; do
        sleep 0.1
        n=$((n + 1))
    done
    checkpid $pid && { kill -KILL $pid 2>/dev/null; sleep 0.1; }
    rm -f "${pf:-/var/run/$base.pid}"
    if checkpid $pid; then failure; return 1; fi
    success
}

status() {  # [-p PIDFILE] [-l LOCKFILE] PROGRAM
    pf= lock=
    while [ $# -gt 0 ]; do
        case $1 in
            -p) pf=$2; shift 2 ;;
            -l) lock=$2; shift 2 ;;
            *) break ;;
        esac
    done
    base=${1##*/}
    __pids_var_run "$base" "$pf"
    case $? in
        0) echo "$base (pid $pid) is running..."; return 0 ;;
        1) echo "$base dead but pid file exists"; return 1 ;;
        4) echo "$base status unknown due to insufficient privileges."; return 4 ;;
    esac
    if [ -f "/var/lock/subsys/${lock:-$base}" ]; then
        echo "$base dead but subsys locked"
        return 2
    fi
    echo "$base is stopped"
    return 3
}
"""

SERVICE = r"""#!/bin/sh
# service NAME ACTION...: run /etc/init.d/NAME in a clean environment, as EL's service does.
[ $# -ge 1 ] || { echo "Usage: service SERVICE ACTION" >&2; exit 1; }
name=$1
shift
script=/etc/rc.d/init.d/$name
[ -x "$script" ] || { echo "$name: unrecognized service" >&2; exit 1; }
exec env -i PATH=/sbin:/usr/sbin:/bin:/usr/bin LANG=C TERM="${TERM:-dumb}" "$script" "$@"
"""

CHKCONFIG = r"""#!/bin/sh
# chkconfig: EL's S/K links in /etc/rc.d/rcN.d from a script's "# chkconfig: LEVELS S K".
rc=/etc/rc.d
header() {  # NAME: sets levels, start, stop from the script, or fails as EL's does
    script=$rc/init.d/$1
    if [ ! -f "$script" ]; then
        echo "error reading information on service $1: No such file or directory" >&2
        exit 1
    fi
    set -- $(sed -n 's/^# *chkconfig: *//p' "$script" | head -n 1)
    [ $# -eq 3 ] || { echo "service $1 does not support chkconfig" >&2; exit 1; }
    levels=$1 start=$2 stop=$3
    [ "$levels" = - ] && levels=
}
unlink() { rm -f "$rc"/rc[0-6].d/[SK][0-9][0-9]"$1"; }
link() {  # NAME ON-LEVELS: S links in those levels, K links in the others
    unlink "$1"
    for l in 0 1 2 3 4 5 6; do
        case $2 in
            *$l*) ln -s ../init.d/"$1" "$rc/rc$l.d/S$start$1" ;;
            *) ln -s ../init.d/"$1" "$rc/rc$l.d/K$stop$1" ;;
        esac
    done
}
on_levels() {  # NAME: the levels whose link is S
    for l in 0 1 2 3 4 5 6; do
        ls "$rc/rc$l.d"/S[0-9][0-9]"$1" >/dev/null 2>&1 && printf %s $l
    done
}
list() {
    n=$(ls "$rc"/rc[0-6].d/[SK][0-9][0-9]"$1" 2>/dev/null | wc -l)
    if [ "$n" -eq 0 ]; then
        echo "service $1 supports chkconfig, but is not referenced in any runlevel" \
            "(run 'chkconfig --add $1')" >&2
        return 1
    fi
    on=$(on_levels "$1")
    printf '%-15s' "$1"
    for l in 0 1 2 3 4 5 6; do
        case $on in *$l*) printf '\t%s:on' $l ;; *) printf '\t%s:off' $l ;; esac
    done
    echo
}
case $1 in
    --add) header "$2"; [ -n "$(on_levels "$2")" ] || link "$2" "$levels" ;;
    --del) header "$2"; unlink "$2" ;;
    --list)
        if [ -n "$2" ]; then header "$2"; list "$2"; exit $?; fi
        for s in "$rc"/init.d/*; do list "${s##*/}" 2>/dev/null; done ;;
    --level) set -- "$3" "$4" "$2"; header "$1"
        case $2 in
            on) link "$1" "$(on_levels "$1")$3" ;;
            off) link "$1" "$(on_levels "$1" | tr -d "$3")" ;;
        esac ;;
    -*|'') echo "usage: chkconfig [--list] [--add|--del] NAME | NAME on|off [--level N]" >&2
        exit 2 ;;
    *) header "$1"
        case $2 in
            on) link "$1" "${4:-2345}" ;;
            off) link "$1" "" ;;
            '') case $(on_levels "$1") in *3*) exit 0 ;; *) exit 1 ;; esac ;;
            *) echo "chkconfig: unknown action $2" >&2; exit 2 ;;
        esac ;;
esac
"""


def files() -> dict[str, tuple[int, str]]:
    return {
        "etc/rc.d/init.d/functions": (0o644, FUNCTIONS),
        "usr/sbin/service": (0o755, SERVICE),
        "usr/sbin/chkconfig": (0o755, CHKCONFIG),
        "etc/sysconfig/network": (0o644, "NETWORKING=yes\n"),
    }


def dirs() -> dict[str, int]:
    levels = {f"etc/rc.d/rc{n}.d": 0o755 for n in range(7)}
    return {"etc/rc.d/init.d": 0o755, "etc/sysconfig": 0o755, **levels}


def symlinks() -> dict[str, str]:
    links = {f"etc/rc{n}.d": f"rc.d/rc{n}.d" for n in range(7)}
    return {"etc/init.d": "rc.d/init.d", **links}
