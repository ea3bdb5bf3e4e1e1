"""The seccomp filter bubblewrap loads into every worker before Python starts.

Written as raw classic BPF so that neither the server nor the worker needs
libseccomp or ctypes: the worker must never load ctypes, which would hand bot
code raw memory access. The filter:

* refuses new processes (fork, vfork, clone without CLONE_THREAD; clone3 is
  answered ENOSYS so glibc falls back to clone for threads), so a fork bomb or
  a double-forked daemon fails at its first fork;
* refuses the calls that reach around the other walls: ptrace and
  process_vm_*, io_uring, bpf, userfaultfd, perf_event_open, keyrings,
  namespaces and mounts;
* allows sockets only of the Unix, IPv4, IPv6 and netlink families (no vsock
  to a hypervisor, no packet sockets).
"""

from __future__ import annotations

import errno
import platform
import struct

__all__ = ["filter_program"]

_LD_W_ABS = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06
_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
_CLONE_THREAD = 0x00010000
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16
_FAMILIES = (1, 2, 10, 16)  # AF_UNIX, AF_INET, AF_INET6, AF_NETLINK

# (audit arch, denied syscall numbers, fork, vfork, clone, clone3, socket)
_TABLES: dict[str, tuple[int, tuple[int, ...], int | None, int | None, int, int, int]] = {
    "x86_64": (
        0xC000003E,
        # ptrace process_vm_readv/writev io_uring_setup/enter/register bpf
        # userfaultfd perf_event_open add_key request_key keyctl unshare setns
        # mount umount2 pivot_root open_tree move_mount fsopen fsconfig fsmount
        # fspick mount_setattr pidfd_getfd
        (
            101,
            310,
            311,
            425,
            426,
            427,
            321,
            323,
            298,
            248,
            249,
            250,
            272,
            308,
            165,
            166,
            155,
            428,
            429,
            430,
            431,
            432,
            433,
            442,
            438,
        ),
        57,
        58,
        56,
        435,
        41,
    ),
    "aarch64": (
        0xC00000B7,
        (
            117,
            270,
            271,
            425,
            426,
            427,
            280,
            282,
            241,
            217,
            218,
            219,
            97,
            268,
            40,
            39,
            41,
            428,
            429,
            430,
            431,
            432,
            433,
            442,
            438,
        ),
        None,
        None,
        220,
        435,
        198,
    ),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program(machine: str | None = None) -> bytes | None:
    """The compiled filter for this machine, or None where no table exists."""
    table = _TABLES.get(machine or platform.machine())
    if table is None:
        return None
    arch, denied, fork, vfork, clone, clone3, sock = table
    eperm = _ERRNO | errno.EPERM
    prog = [
        _op(_LD_W_ABS, _OFF_ARCH),
        _op(_JEQ, arch, 1, 0),
        _op(_RET, _KILL_PROCESS),  # another ABI (i386 int 0x80) would dodge the numbers
        _op(_LD_W_ABS, _OFF_NR),
    ]
    if arch == 0xC000003E:
        prog += [_op(_JGE, 0x40000000, 0, 1), _op(_RET, _KILL_PROCESS)]  # x32 ABI
    for nr in (*denied, *(n for n in (fork, vfork) if n is not None)):
        prog += [_op(_JEQ, nr, 0, 1), _op(_RET, eperm)]
    prog += [_op(_JEQ, clone3, 0, 1), _op(_RET, _ERRNO | errno.ENOSYS)]
    # clone: threads (CLONE_THREAD) pass, anything else is a new process.
    prog += [
        _op(_JEQ, clone, 0, 4),
        _op(_LD_W_ABS, _OFF_ARG0),
        _op(_JSET, _CLONE_THREAD, 1, 0),
        _op(_RET, eperm),
        _op(_RET, _ALLOW),
    ]
    # socket(family, ...): the families listed pass.
    n = len(_FAMILIES)
    prog += [_op(_JEQ, sock, 0, n + 3), _op(_LD_W_ABS, _OFF_ARG0)]
    prog += [_op(_JEQ, fam, n - i, 0) for i, fam in enumerate(_FAMILIES)]
    prog += [_op(_RET, _ERRNO | errno.EAFNOSUPPORT), _op(_RET, _ALLOW)]
    prog.append(_op(_RET, _ALLOW))
    return b"".join(prog)
