"""What a run costs: CPU, context switches and memory of a process tree, from /proc.

CPU is exact without fast sampling: a process's utime+stime covers all its
threads, and the root's cutime+cstime covers every child it has reaped (a
worker that ended mid-run moves its CPU from the live sum into the
supervisor's children's sum, so it is neither lost nor counted twice).
Context switches are per thread and have no children's sum, so a sampler
thread keeps the last figure it saw for each thread; a thread that ends
between two samples loses at most one interval's switches (reported as a
lower bound). PSS is sampled a few times while the calls are up and the
largest sum kept.

The machine's busy time is measured too: the kernel's interrupt and
softirq work (TCP's pacing timers sending our frames, the loopback
delivering them) is charged to whatever process it interrupts, or to none,
so it is missing from the trees' sums; kernel pacing moves work there.
"""
import os
import resource
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """Fields of /proc/pid/stat after the command name (index 0 is field 3)."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()


def children_map():
    """ppid -> [pid] for every process on the machine."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid = int(_stat(int(name))[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(name))
    return kids


def tree(root):
    """root and every descendant alive now."""
    kids, out, todo = children_map(), [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ticks(root):
    """CPU ticks of root's tree so far: the live processes, and the reaped ones
    through root's children's sum."""
    total = 0
    for pid in tree(root):
        try:
            f = _stat(pid)
        except OSError:
            continue	# ended since the listing: its CPU is in its parent's cutime
        total += int(f[11]) + int(f[12])	# utime, stime
        if pid == root:
            total += int(f[13]) + int(f[14])	# cutime, cstime
    return total


def machine_idle_s():
    """Seconds the machine's CPUs have been idle (iowait included). With a
    tickless kernel this is kept by the clock, where /proc/stat's busy
    fields are sampled on ticks (and disagree with it here, in a VM): busy
    time is the CPUs' wall time less this."""
    with open("/proc/stat") as f:
        v = f.readline().split()
    return (int(v[4]) + int(v[5])) / TICK


def machine_ticks():
    """The CPUs' user (nice included), system and interrupt (irq and
    softirq) ticks from /proc/stat. They are sampled on ticks, so only
    their proportions mean much: how much of the busy time is the kernel's."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return v[0] + v[1], v[2], v[5] + v[6]


def thread_ticks(pid):
    """tid -> CPU ticks (utime+stime) of each live thread of pid."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                st = f.read()
            f = st[st.rindex(")") + 2:].split()
            out[tid] = int(f[11]) + int(f[12])
        except (OSError, ValueError, IndexError):
            pass
    return out


def pss_kb(root):
    total = 0
    for pid in tree(root):
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def _thread_switches(root, seen):
    for pid in tree(root):
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                n = 0
                with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                    for line in f:
                        if "ctxt_switches:" in line:	# voluntary_ and nonvoluntary_
                            n += int(line.split()[1])
                seen[int(tid)] = n
            except (OSError, ValueError):
                pass


class Cost:
    """Measures one run: start() before the load, stop() after it and before
    the daemon stops. others: name -> pid of processes measured beside the
    tree (the emulators); after stop(), busiest[name] is the share of a core
    its busiest thread used."""

    def __init__(self, root, others=None, interval=1.0, pss_every=4):
        self.root, self.others, self.interval = root, dict(others or {}), interval
        self.pss_every = pss_every
        self.seen, self.base, self.pss_max = {}, {}, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        n = 0
        while not self._stop.wait(self.interval):
            _thread_switches(self.root, self.seen)
            n += 1
            if n % self.pss_every == 0:
                self.pss_max = max(self.pss_max, pss_kb(self.root))

    def start(self):
        _thread_switches(self.root, self.seen)
        self.base = dict(self.seen)
        self.t0 = time.monotonic()
        self.cpu0 = cpu_ticks(self.root)
        self.others0 = {k: cpu_ticks(p) for k, p in self.others.items()}
        self.threads0 = {k: thread_ticks(p) for k, p in self.others.items()}
        self.kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.idle0 = machine_idle_s()
        self.ticks0 = machine_ticks()
        self._thread.start()
        return self

    def stop(self):
        """Wall seconds, our tree's CPU seconds, the others' CPU seconds, the
        reaped children's (the load generator's) CPU seconds, switches.
        After it, machine_busy is the seconds of CPU the whole machine used
        meanwhile (every process, the kernel's interrupts and softirqs),
        and split the shares of the CPUs' busy ticks that were user space,
        the kernel's system calls and its interrupts and softirqs."""
        self._stop.set()
        self._thread.join()
        _thread_switches(self.root, self.seen)
        wall = time.monotonic() - self.t0
        self.machine_busy = max(0.0, wall * os.cpu_count() - (machine_idle_s() - self.idle0))
        ticks = [b - a for a, b in zip(self.ticks0, machine_ticks())]
        self.split = {k: round(t / (sum(ticks) or 1), 3)
                      for k, t in zip(("user", "system", "interrupts"), ticks)}
        cpu = (cpu_ticks(self.root) - self.cpu0) / TICK
        others = {k: (cpu_ticks(p) - self.others0[k]) / TICK for k, p in self.others.items()}
        # A tool can be saturated on one thread (the emulators' websocket
        # loop) well below a whole core for the process.
        self.busiest = {}
        for k, p in self.others.items():
            t1 = thread_ticks(p)
            self.busiest[k] = max([(t1[t] - self.threads0[k].get(t, 0)) / TICK / wall
                                   for t in t1] or [0.0])
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        reaped = (kids.ru_utime + kids.ru_stime) - (self.kids0.ru_utime + self.kids0.ru_stime)
        switches = sum(n - self.base.get(tid, 0) for tid, n in self.seen.items())
        return wall, cpu, others, reaped, switches
