# Writes sandstream's seccomp filter as a BPF program (for bwrap --seccomp FD) to the path in argv[1].
# Default allow; these system calls fail with EPERM: code that runs in a session never needs them,
# and each is a known path to escape a sandbox or attack the kernel.
import errno
import sys

import seccomp

DENIED = [
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount", "fsconfig",
    "fspick", "mount_setattr",
    "unshare", "setns",
    "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "syslog", "acct", "quotactl", "nfsservctl",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "vhangup",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "iopl", "ioperm", "personality", "uselib", "pidfd_getfd", "mbind", "migrate_pages", "move_pages",
    "set_mempolicy",
]

f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
for name in DENIED:
    try:
        f.add_rule(seccomp.ERRNO(errno.EPERM), name)
    except (RuntimeError, ValueError, OSError):
        pass  # not a system call on this architecture
# clone3 passes its flags in memory, where a filter cannot look: ENOSYS makes libc fall back to clone.
f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
# clone with any namespace flag (CLONE_NEWNS/CGROUP/UTS/IPC/USER/PID/NET/TIME): new namespaces are how most container escapes begin.
for flag in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080):
    f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
# TIOCSTI pushes input into a terminal; no session has one, deny anyway.
f.add_rule(seccomp.ERRNO(errno.EPERM), "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, 0x5412))
# Raw and packet sockets (socket(AF_PACKET, ...) and SOCK_RAW) have no use here.
f.add_rule(seccomp.ERRNO(errno.EPERM), "socket", seccomp.Arg(0, seccomp.EQ, 17))
# AF_NETLINK (16) talks to the kernel's subsystems (routing, audit, uevents, …): a large attack
# surface code never needs (glibc's getaddrinfo falls back without it). AF_VSOCK (40) is not per
# network namespace: from inside a VM it reaches the hypervisor and its other guests.
for family in (16, 40):
    f.add_rule(seccomp.ERRNO(errno.EPERM), "socket", seccomp.Arg(0, seccomp.EQ, family))
    f.add_rule(seccomp.ERRNO(errno.EPERM), "socketpair", seccomp.Arg(0, seccomp.EQ, family))
f.add_rule(seccomp.ERRNO(errno.EPERM), "socket", seccomp.Arg(1, seccomp.MASKED_EQ, 0xF, 3))

with open(sys.argv[1], "wb") as out:
    f.export_bpf(out)
