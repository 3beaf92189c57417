#!/usr/bin/env python3
"""make bench-index: the sbc_tenant index at 1,000,000 DIDs.

  1. A throwaway MariaDB (own datadir, socket and port under $SBCT_BENCH_RUNDIR) with the project schema,
     1,000 tenants and N DIDs (90 % exact numbers, 10 % prefixes; every 10th row with its own gateway
     group, every 100th with a gateway_uri), inserted once and kept for the next run.
  2. Kamailio with bench/index/kamailio-bench.cfg (db_mysql, ctl, sbc_tenant only), once per
     private-memory manager: shared memory used with an empty DID table and with the full one (core.shmmem
     real_used), the initial load, then RELOADS reloads through `kamcmd sbc_tenant.reload` (whole reload,
     database part, index build).
  3. The pure-C index lookup rate (tests/unit/sbc_tenant/bench_sbct_index, one core).
Prints one table. Every process it starts is stopped before it exits.

Environment: SBCT_BENCH_RUNDIR (/tmp/sbct-bench), SBCT_BENCH_DB_PORT (13398), SBCT_BENCH_PORT (5098),
SBCT_BENCH_DIDS (1000000), SBCT_BENCH_RELOADS (5), SBCT_BENCH_PKG ("qm fm": -X values, "qm" is Kamailio's
default), SBCT_BENCH_FETCH_ROWS (module fetch_rows; default: the module's default).
"""
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RUN = os.environ.get("SBCT_BENCH_RUNDIR", "/tmp/sbct-bench")
DB_PORT = int(os.environ.get("SBCT_BENCH_DB_PORT", "13398"))
SIP_PORT = int(os.environ.get("SBCT_BENCH_PORT", "5098"))
N = int(os.environ.get("SBCT_BENCH_DIDS", "1000000"))
RELOADS = int(os.environ.get("SBCT_BENCH_RELOADS", "5"))
PKG = os.environ.get("SBCT_BENCH_PKG", "qm fm").split()
FETCH_ROWS = os.environ.get("SBCT_BENCH_FETCH_ROWS")
SHM_MB = 1024
TENANTS = 1000
DB_SOCK = os.path.join(RUN, "mysql.sock")
CTL = "unix:%s/kamailio_ctl" % RUN
DBURL = "mysql://kamailio:kamailiorw@127.0.0.1:%d/kamailio" % DB_PORT

procs = []


def log(msg):
    print("bench-index: " + msg, flush=True)


def sql(query, db="kamailio", timeout=600):
    r = subprocess.run(["mariadb", "--no-defaults", "-S", DB_SOCK, "-uroot", "-N", "-B", db, "-e", query],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("SQL failed: %s\n%s" % (query[:200], r.stderr))
    return [l.split("\t") for l in r.stdout.splitlines()]


def stop(p, timeout=30):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def start(cmd, logname):
    out = open(os.path.join(RUN, logname), "ab")
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    out.close()
    procs.append(p)
    return p


def wait_for(what, fn, timeout, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited" % what)
        try:
            if fn():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError("%s not ready after %d s" % (what, timeout))


# ---- database ------------------------------------------------------------------------------------------

def start_mariadb():
    datadir = os.path.join(RUN, "mysql")
    if not os.path.isdir(os.path.join(datadir, "mysql")):
        log("initialising MariaDB in %s" % datadir)
        subprocess.run(["mariadb-install-db", "--no-defaults", "--user=%s" % os.environ.get("USER", "root"),
                        "--datadir=%s" % datadir, "--auth-root-authentication-method=normal",
                        "--skip-test-db"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, check=True)
    p = start(["mariadbd", "--no-defaults", "--user=root", "--datadir=%s" % datadir, "--socket=%s" % DB_SOCK,
               "--port=%d" % DB_PORT, "--bind-address=127.0.0.1", "--skip-name-resolve",
               "--innodb-buffer-pool-size=512M", "--log-error=%s" % os.path.join(RUN, "mariadb.log"),
               "--pid-file=%s" % os.path.join(RUN, "mariadbd.pid")], "mariadb.out")
    wait_for("MariaDB", lambda: sql("SELECT 1", db="mysql") == [["1"]], 60, p)
    sql("CREATE DATABASE IF NOT EXISTS kamailio; "
        "CREATE USER IF NOT EXISTS 'kamailio'@'127.0.0.1' IDENTIFIED BY 'kamailiorw'; "
        "GRANT ALL ON kamailio.* TO 'kamailio'@'127.0.0.1'", db="mysql")
    with open(os.path.join(TOP, "sql", "kamailio_schema.sql")) as f:
        r = subprocess.run(["mariadb", "--no-defaults", "-S", DB_SOCK, "-uroot", "kamailio"], stdin=f,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("schema load failed: " + r.stdout)


def fill_data():
    have = int(sql("SELECT COUNT(*) FROM did_routing")[0][0])
    tenants = int(sql("SELECT COUNT(*) FROM tenants")[0][0])
    if have == N and tenants == TENANTS:
        log("database already holds %d DIDs" % have)
    else:
        n_prefix = N // 10
        n_exact = N - n_prefix
        log("inserting %d tenants and %d DIDs (%d exact, %d prefixes)" % (TENANTS, N, n_exact, n_prefix))
        t0 = time.time()
        # Bulk session: the triggers do not bump the version per row.
        sql("SET @sbc_routing_bulk = 1; TRUNCATE did_routing; DELETE FROM tenants; "
            "INSERT INTO tenants (id, name, gateway_group, fallback_group, max_calls, max_cps) "
            "SELECT seq, CONCAT('bench-', LPAD(seq, 4, '0')), 100 + seq %% 50, 200, 0, 0 FROM seq_1_to_%d; "
            "INSERT INTO did_routing (did, tenant_id, gateway_group, gateway_uri, priority, description) "
            "SELECT CONCAT('49', LPAD((seq * 7919) %% 10000000000, 10, '0')), 1 + seq %% %d, "
            "IF(seq %% 10 = 0, 300 + seq %% 7, NULL), "
            "IF(seq %% 100 = 0, CONCAT('sip:10.0.', seq %% 250, '.', seq %% 200, ':5060'), NULL), 0, 'bench' "
            "FROM seq_1_to_%d; "
            "INSERT INTO did_routing (did, tenant_id, description) "
            "SELECT CONCAT('3', LPAD(seq, 6, '0'), '*'), 1 + seq %% %d, 'bench' FROM seq_1_to_%d; "
            "SET @sbc_routing_bulk = NULL; UPDATE sbc_routing_version SET version = version + 1 WHERE id = 1"
            % (TENANTS, TENANTS, n_exact, TENANTS, n_prefix), timeout=1800)
        log("inserted in %.1f s" % (time.time() - t0))
    sql("CREATE TABLE IF NOT EXISTS did_routing_empty LIKE did_routing")


# ---- Kamailio --------------------------------------------------------------------------------------------

def kamcmd(*args, timeout=120):
    r = subprocess.run(["kamcmd", "-s", CTL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    if r.returncode != 0 or r.stdout.startswith("error"):
        raise RuntimeError("kamcmd %s: %s" % (" ".join(args), r.stdout))
    return r.stdout


def fields(text):
    """top-level "name: value" lines of a kamcmd struct (nested structs are indented further)"""
    return dict(re.findall(r"^\t(\w+):[ \t]*(\S*)[ \t]*$", text, re.M))


def start_kamailio(table, pkg):
    logname = "kamailio-%s-%s.log" % (pkg, table)
    path = os.path.join(RUN, logname)
    if os.path.exists(path):
        os.unlink(path)
    cmd = ["kamailio", "-f", os.path.join(TOP, "bench", "index", "kamailio-bench.cfg"), "-Y", RUN,
           "-P", os.path.join(RUN, "kamailio.pid"), "-DD", "-E", "-m", str(SHM_MB), "-M", "16", "-X", pkg,
           "-A", 'DBURL="%s"' % DBURL, "-A", 'MODULES_DIR="%s"' % os.path.join(TOP, "build", "modules"),
           "-A", 'CTL_SOCKET="%s"' % CTL, "-A", 'DID_TABLE="%s"' % table, "-A", "BENCH_PORT=%d" % SIP_PORT]
    if FETCH_ROWS:
        cmd += ["-A", "FETCH_ROWS=%s" % FETCH_ROWS]
    p = start(cmd, logname)
    wait_for("Kamailio", lambda: kamcmd("core.uptime", timeout=5) != "", 120, p)
    with open(path, errors="replace") as f:
        m = re.search(r"index loaded \(start.*?: .*? (\d+) DIDs.*?, (\d+) ms \(database (\d+) ms, build (\d+) ms\)",
                      f.read())
    initial = tuple(int(x) for x in m.groups()[1:]) if m else None
    return p, initial


def shm_used():
    return int(fields(kamcmd("core.shmmem"))["real_used"])


def measure(pkg):
    p, _ = start_kamailio("did_routing_empty", pkg)
    used_empty = shm_used()
    stop(p)
    p, initial = start_kamailio("did_routing", pkg)
    try:
        used_full = shm_used()
        st = fields(kamcmd("sbc_tenant.stats"))
        runs = []
        for i in range(RELOADS):
            r = fields(kamcmd("sbc_tenant.reload", timeout=300))
            runs.append((int(r["duration_ms"]), int(r["db_ms"]), int(r["build_ms"])))
            log("  %s reload %d: %s ms (database %s, build %s)" % (pkg, i + 1, *runs[-1]))
        used_after = shm_used()
    finally:
        stop(p)
    return {"pkg": pkg, "dids": int(st["dids"]), "exact": int(st["exact"]), "prefixes": int(st["prefixes"]),
            "index_bytes": int(st["index_bytes"]), "used_empty": used_empty, "used_full": used_full,
            "used_after": used_after, "initial": initial, "runs": runs}


# ---- pure index --------------------------------------------------------------------------------------------

def pure_index():
    d = os.path.join(TOP, "tests", "unit", "sbc_tenant")
    subprocess.run(["make", "-s", "-C", d, "bench_sbct_index"], check=True)
    out = subprocess.run([os.path.join(d, "bench_sbct_index"), str(N)], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    res = {"build": None, "rates": []}
    m = re.search(r"built .* in ([0-9.]+) s; block (\d+) bytes, ([0-9.]+) bytes/DID", out)
    if m:
        res["build"] = (float(m.group(1)), int(m.group(2)), float(m.group(3)))
    for m in re.finditer(r"^(.*?)\s+median\s+(\d+) lookups/s, best\s+(\d+)", out, re.M):
        res["rates"].append((m.group(1).strip(), int(m.group(2)), int(m.group(3))))
    return res, out


# ---- report ------------------------------------------------------------------------------------------------

def report(results, pure):
    line = "-" * 98
    print()
    print(line)
    print("sbc_tenant index benchmark: %d DIDs, %d tenants, %d reloads per run (%s, %d cores)"
          % (N, TENANTS, RELOADS, time.strftime("%Y-%m-%d %H:%M"), os.cpu_count() or 0))
    print(line)
    print("%-36s %s" % ("", "  ".join("%-22s" % ("pkg allocator -X " + r["pkg"]) for r in results)))

    def row(name, fn):
        print("%-36s %s" % (name, "  ".join("%-22s" % fn(r) for r in results)))

    row("DIDs in the index (exact/prefix)", lambda r: "%d (%d/%d)" % (r["dids"], r["exact"], r["prefixes"]))
    row("initial load in mod_init (ms)", lambda r: "%d (db %d, build %d)" % r["initial"] if r["initial"] else "-")
    for label, k in (("reload, whole (ms) min/med/max", 0), ("  reading the rows (ms)", 1),
                     ("  building the index (ms)", 2)):
        row(label, lambda r, k=k: "%d / %d / %d" % (min(x[k] for x in r["runs"]),
                                                    statistics.median(x[k] for x in r["runs"]),
                                                    max(x[k] for x in r["runs"])))
    row("index block (bytes)", lambda r: "%d" % r["index_bytes"])
    row("index bytes per DID", lambda r: "%.1f" % (r["index_bytes"] / max(r["dids"], 1)))
    row("shm used, empty table (MB)", lambda r: "%.1f" % (r["used_empty"] / 1e6))
    row("shm used, 1M DIDs loaded (MB)", lambda r: "%.1f" % (r["used_full"] / 1e6))
    row("shm used after the reloads (MB)", lambda r: "%.1f" % (r["used_after"] / 1e6))
    row("shm per DID, loaded - empty (bytes)", lambda r: "%.1f" % ((r["used_full"] - r["used_empty"])
                                                                    / max(r["dids"], 1)))
    print(line)
    if pure["build"]:
        print("pure C index (malloc, one core): build %.2f s, block %d bytes, %.1f bytes/DID"
              % pure["build"])
    for name, med, best in pure["rates"]:
        print("  %-30s %5.2f M lookups/s median, %5.2f M best" % (name, med / 1e6, best / 1e6))
    print(line)


def main():
    os.makedirs(RUN, exist_ok=True)
    if not os.path.exists(os.path.join(TOP, "build", "modules", "sbc_tenant.so")):
        sys.exit("bench-index: build/modules/sbc_tenant.so missing (make modules)")
    results = []
    try:
        start_mariadb()
        fill_data()
        for pkg in PKG:
            log("Kamailio with -X %s" % pkg)
            results.append(measure(pkg))
    finally:
        for p in reversed(procs):
            stop(p)
    pure, _ = pure_index()
    report(results, pure)


if __name__ == "__main__":
    main()
