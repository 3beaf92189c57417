# make bench: where a Kamailio setup's CPU time goes, from `perf record` of all its processes.
#
# Every sample is put in one bucket: the system call (or page fault, interrupt, scheduling) when the CPU
# was in the kernel, else the library or module, and inside the Kamailio binary a part of the core
# (script interpreter, memory manager, SIP parser, rest). Kamailio and its modules are stripped Debian
# builds without frame pointers: only the sampled function itself is known, not its callers.
#
# This file is part of kamailio-sbc, GPL-2.0-or-later.

import collections
import os
import re
import signal
import subprocess

CORE_GROUPS = (
    ("memory manager", re.compile(r"^(qm_|fm_|tlsf_|_shm_|shm_|pkg_|sr_pkg|sr_shm)")),
    ("script interpreter", re.compile(r"^(do_action|run_actions|run_top_route|rval_|lval_|eval_|"
                                      r"pv_|comp_|fixup_|get_debug_level|search_(first|next)_avp|"
                                      r"run_action|km_|route_)")),
    ("SIP parser", re.compile(r"^(parse_|get_hdr|_parse|clen_|sip_msg_|free_sip_msg|"
                              r"check_transaction_quadruple)")),
)
_FRAME = re.compile(r"^\s*[0-9a-f]+ (.*) \((.*)\)$")


def available():
    try:
        return subprocess.run(["perf", "--version"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ensure():
    """perf runs here, installed from Debian's linux-perf when missing; the reason when it does not"""
    if available():
        return None
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "linux-perf"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return None if available() else "perf (Debian package linux-perf) does not run on this machine"


class Recorder:
    """perf record of the given processes from start() to stop()"""

    def __init__(self, pids, path, freq=999):
        self.cmd = ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(freq), "-g", "-o", path,
                    "-p", ",".join(str(p) for p in pids)]
        self.path = path
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        return self

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        if not os.path.exists(self.path):
            raise RuntimeError("perf record wrote nothing: %s" % err.decode(errors="replace")[-300:])


LIBC_GROUPS = (
    ("system call wrappers", re.compile(r"^(__GI_)?_*(libc_)?(poll|ppoll|recvfrom|recv|recvmsg|read|write|writev|"
                                        r"sendto|send|sendmsg|syscall|epoll_wait|select|pselect6?|"
                                        r"clock_gettime|nanosleep|pause)(@.*)?$")),
    ("strings", re.compile(r"^_*(str|mem|wmem|rawmem)\w*")),
    ("malloc", re.compile(r"^(_int_|__libc_)?(malloc|free|calloc|realloc|cfree)|^malloc_consolidate|^tcache")),
    ("regex", re.compile(r"^(re_|regexec|build_upper_buffer|check_matching|sift_states|transit_state)")),
    ("printf/scanf", re.compile(r"^(__)?(v?s?n?printf|_IO_|vfscanf|__vfscanf|__vfprintf|printf_|__printf)")),
)


def syscall_name(sym):
    """read, recvfrom, ... from a libc system call wrapper's name (__libc_recvfrom, __GI___libc_write)"""
    return re.sub(r"^(__GI_)?_*(libc_)?", "", sym).split("@")[0] or sym


def _kernel(dso):
    return dso.endswith("kallsyms") or dso.startswith("[kernel")


def bucket(frames):
    """frames: [(symbol, dso)], leaf first"""
    sym, dso = frames[0]
    if _kernel(dso):
        names = [s for s, d in frames if _kernel(d)]
        if any("page_fault" in s for s in names):
            return "kernel: page faults"
        if any(s.startswith(("asm_sysvec", "asm_common_interrupt")) for s in names):
            return "kernel: interrupts"
        user = next(((s, d) for s, d in frames if not _kernel(d)), None)
        if user and os.path.basename(user[1]).startswith("libc"):
            # the system call and the context switches it led to (a blocking read, preemption on return);
            # Kamailio's locks wait and wake through syscall(SYS_futex)
            name = syscall_name(user[0])
            return "kernel: futex() (locks)" if name == "syscall" else "kernel: %s()" % name
        return "kernel: other"
    lib = os.path.basename(dso)
    if lib == "kamailio":
        if sym == "[unknown]":
            # static functions have no symbol in the stripped binary (the TLSF memory manager's
            # internals among them)
            return "core: unnamed static functions"
        for name, rx in CORE_GROUPS:
            if rx.match(sym):
                return "core: " + name
        return "core: other"
    if "/kamailio/modules/" in dso or "/build/modules/" in dso:
        return "module " + lib
    if lib.startswith("libc.so"):
        for name, rx in LIBC_GROUPS:
            if rx.match(sym):
                return "libc: " + name
        return "libc: other"
    m = re.match(r"^(lib[\w+-]+?)(?:[-.]\d.*)?\.so", lib)
    return m.group(1) if m else (lib or "?")


def samples(path):
    """(pid, frames) of every sample in a perf.data file"""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "pid,ip,sym,dso"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, errors="replace", timeout=600).stdout
    for block in out.split("\n\n"):
        lines = block.strip("\n").splitlines()
        if len(lines) < 2 or not lines[0].strip().isdigit():
            continue
        frames = []
        for line in lines[1:]:
            m = _FRAME.match(line)
            if m:
                frames.append((m.group(1).split("+")[0], m.group(2)))
        if frames:
            yield int(lines[0]), frames


def summarize(path, roles):
    """{"total": n, "buckets": Counter, "roles": {role: (n, Counter)}} from a perf.data file;
    roles: pid -> role of the Kamailio processes"""
    total, buckets = 0, collections.Counter()
    per_role = collections.defaultdict(collections.Counter)
    for pid, frames in samples(path):
        b = bucket(frames)
        total += 1
        buckets[b] += 1
        per_role[roles.get(pid, "?")][b] += 1
    return {"total": total, "buckets": buckets,
            "roles": {r: (sum(c.values()), c) for r, c in per_role.items()}}


def report_lines(prof, top=6):
    """markdown: the buckets over all processes, then per process role"""
    t = prof["total"] or 1
    L = ["| where (all Kamailio processes) | share of samples |", "|---|---|"]
    for b, n in prof["buckets"].most_common(18):
        L.append("| %s | %.1f %% |" % (b, 100.0 * n / t))
    L += ["", "| process role | share | its top buckets (share within the role) |", "|---|---|---|"]
    for role, (n, c) in sorted(prof["roles"].items(), key=lambda x: -x[1][0]):
        if 100.0 * n / t < 0.5:
            continue
        L.append("| %s | %.1f %% | %s |" % (role, 100.0 * n / t, ", ".join(
            "%s %.0f %%" % (b, 100.0 * k / n) for b, k in c.most_common(top))))
    return L
