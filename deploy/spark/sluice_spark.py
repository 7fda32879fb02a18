"""sluice scheduled by Spark: plan on the driver, one Spark task per sluice task on the
executors, commit on the driver (src/exec/task.h). Glue only: it moves the plan, the
settings and the tasks' result lines; every row is read and written by the sluice binary.

    spark-submit --master spark://HOST:7077 deploy/spark/sluice_spark.py run|export [sluice flags]

The binary: spark.sluice.bin (--conf), else SLUICE_BIN, else the build/sluice of the
checkout this script lives in; it must exist at that path on every worker.

Settings: what the driver sees - its MYSQL_*, AWS_*, S3_* and SLUICE_* environment, the
.env file (./.env or --env-file PATH) and --s3-endpoint - travels inside the tasks'
closures (never in Spark's configuration, so never in its UI or logs) and reaches each
sluice process as its environment and a 0600 copy of the .env file, never as arguments.

Consistency: with --consistency snapshot (the default) or a run with --shards N > 1 the
tasks run as one barrier stage (as many Spark tasks as free cores, each running its
share of the sluice tasks at once): every sluice task opens its snapshot while one
snapshot lock is held (sluice's bounded lock: BACKUP STAGE on MariaDB, the plan's
--lock-wait-timeout/--lock-retries), released once all have started; the order shards exchange
their customers' totals with allGather. A failed barrier stage is retried whole by
Spark. Otherwise each sluice task is a Spark task of its own, retried alone.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTING_PREFIXES = ("MYSQL_", "AWS_", "S3_", "SLUICE_")
HERE = Path(__file__).resolve()


def usage():
    sys.stderr.write("usage: spark-submit [spark options] sluice_spark.py run|export [sluice flags]\n"
                     "  (global sluice flags too: --env-file PATH, --s3-endpoint URL, -q, -v)\n")
    sys.exit(2)


def split_global(args):
    """The sluice global flags this script handles itself, and the rest."""
    env_file, endpoint, rest, i = None, None, [], 0
    while i < len(args):
        a = args[i]
        if a in ("--env-file", "--s3-endpoint") and i + 1 < len(args):
            if a == "--env-file":
                env_file = args[i + 1]
            else:
                endpoint = args[i + 1]
            i += 2
            continue
        if a.startswith("--env-file="):
            env_file = a.split("=", 1)[1]
        elif a.startswith("--s3-endpoint="):
            endpoint = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return env_file, endpoint, rest


def driver_settings(env_file, endpoint):
    """(environment settings, .env bytes or None): what the driver's sluice sees."""
    env = {k: v for k, v in os.environ.items() if k.startswith(SETTING_PREFIXES)}
    if endpoint:
        env["S3_ENDPOINT"] = endpoint  # a flag wins over the environment, as in sluice
    path = Path(env_file) if env_file else Path(".env")
    dotenv = path.read_bytes() if path.exists() else None
    if env_file and dotenv is None:
        sys.stderr.write(f"sluice_spark: --env-file {env_file} does not exist\n")
        sys.exit(3)
    return env, dotenv


def sluice_bin(conf):
    b = conf.get("spark.sluice.bin", None) or os.environ.get("SLUICE_BIN") or str(HERE.parents[2] / "build" / "sluice")
    return b


# ------------------------------------------------------------------------------------
# on the executors


class Proc:
    """One `sluice task` process and its line protocol on stdin/stdout."""

    def __init__(self, binary, plan_path, env_path, k, attempt, env, sync, errdir):
        cmd = [binary]
        if env_path:
            cmd += ["--env-file", env_path]
        cmd += ["task", plan_path, str(k), "--attempt", attempt] + (["--sync"] if sync else [])
        self.k = k
        # its log lines go to the executor's stderr, and the last ones into the error
        self.errpath = os.path.join(errdir, f"task-{k}.err")
        self.err = open(self.errpath, "w+")
        self.p = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                  text=True)

    def failed(self, rc):
        self.err.flush()
        self.err.seek(0)
        text = self.err.read()
        sys.stderr.write(text)
        last = [l for l in text.splitlines() if l.strip()][-1:] or ["(no message)"]
        return RuntimeError(f"sluice task {self.k} exited {rc}: {last[0]}")

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def line(self):
        s = self.p.stdout.readline()
        if not s:
            raise self.failed(self.p.wait())
        return json.loads(s)

    def expect(self, what):
        o = self.line()
        if o.get("sync") != what:
            raise RuntimeError(f"sluice task {self.k}: expected sync {what!r}, got {o!r}")

    def finish(self, result):
        self.p.stdin.close()
        rc = self.p.wait()
        if rc != 0:
            raise self.failed(rc)
        self.err.seek(0)
        sys.stderr.write(self.err.read())
        return result

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.err.close()
        os.unlink(self.errpath)


def executor_name():
    # A standalone executor runs in <worker dir>/<app id>/<executor id>: its Python
    # workers inherit that folder.
    cwd = Path(os.getcwd())
    return f"{socket.gethostname()}:{cwd.parent.parent.name}/executor-{cwd.name}"


def make_task_fn(binary, plan_text, env_settings, dotenv, barrier, lock_snapshot, concurrent, nspark):
    def run_partition(index, _rows):
        from pyspark import BarrierTaskContext, TaskContext
        ctx = BarrierTaskContext.get() if barrier else TaskContext.get()
        ntasks = len(json.loads(plan_text)["tasks"])
        mine = [k for k in range(ntasks) if k % nspark == index]
        attempt = f"a{ctx.taskAttemptId()}"
        executor = executor_name()
        tmp = tempfile.mkdtemp(prefix="sluice-task-")
        os.chmod(tmp, 0o700)
        plan_path = os.path.join(tmp, "plan.json")
        with open(plan_path, "w") as f:
            f.write(plan_text)
        env_path = None
        if dotenv is not None:
            env_path = os.path.join(tmp, "settings.env")
            fd = os.open(env_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(dotenv)
        env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
        env.update(env_settings)
        procs, out = [], []
        try:
            for k in mine:
                procs.append(Proc(binary, plan_path, env_path, k, attempt, env, barrier, tmp))
            if barrier:
                for p in procs:
                    p.expect("connected")
                ctx.barrier()                                    # everyone is connected
                holder = lock_snapshot and index == 0
                if holder:
                    procs[0].send("lock")
                    procs[0].expect("locked")
                ctx.barrier()                                    # the lock is held
                for p in procs:
                    p.send("begin")
                    p.expect("begun")
                ctx.barrier()                                    # every snapshot has started
                if holder:
                    procs[0].send("unlock")
                    procs[0].expect("unlocked")
            results = {}
            gathering = json.loads(plan_text).get("shards", 1) > 1 and barrier
            if concurrent:
                for p in procs:
                    if barrier:
                        p.send("go")
                first = {p.k: p.line() for p in procs}
                if gathering:
                    msgs = {o["participant"]: o["gather"] for o in first.values() if "gather" in o}
                    everyone = {}
                    for m in ctx.allGather(json.dumps(msgs)):
                        everyone.update({int(i): v for i, v in json.loads(m).items()})
                    line = json.dumps([everyone[i] for i in range(len(everyone))])
                    for p in procs:
                        if "gather" in first[p.k]:
                            p.send(line)
                            first[p.k] = p.line()
                for p in procs:
                    results[p.k] = p.finish(first[p.k])
            else:
                for p in procs:
                    if barrier:
                        p.send("go")
                    results[p.k] = p.finish(p.line())
            for k in mine:
                r = results[k]
                r["executor"] = executor
                r["attempts"] = ctx.attemptNumber() + 1
                out.append(json.dumps(r))
        finally:
            for p in procs:
                p.kill()
            for name in ("plan.json", "settings.env"):
                try:
                    os.unlink(os.path.join(tmp, name))
                except FileNotFoundError:
                    pass
            os.rmdir(tmp)
        return out

    return run_partition


# ------------------------------------------------------------------------------------
# on the driver


def main(argv):
    if len(argv) < 2 or argv[1] not in ("run", "export"):
        usage()
    command = argv[1]
    env_file, endpoint, flags = split_global(argv[2:])
    if any(f in ("-h", "--help") for f in flags):
        print(__doc__)
        return 0
    t_start = time.monotonic()
    from pyspark import SparkContext
    sc = SparkContext.getOrCreate()
    t_ctx = time.monotonic()
    binary = sluice_bin(sc.getConf())
    if not os.access(binary, os.X_OK):
        sys.stderr.write(f"sluice_spark: the sluice binary {binary} is not executable here (set spark.sluice.bin)\n")
        return 3
    env_settings, dotenv = driver_settings(env_file, endpoint)
    driver_env = dict(os.environ)
    driver_env.update(env_settings)
    gflags = (["--env-file", env_file] if env_file else []) + (["--s3-endpoint", endpoint] if endpoint else [])

    t0 = time.monotonic()
    p = subprocess.run([binary, *gflags, "plan", command, *flags, "--json"], env=driver_env,
                       stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        return p.returncode
    plan_text = p.stdout
    plan = json.loads(plan_text)
    t_plan = time.monotonic()
    ntasks = len(plan["tasks"])
    snapshot = plan["consistency"] == "snapshot" and ntasks > 1
    barrier = snapshot or plan.get("shards", 1) > 1
    slots = max(1, sc.defaultParallelism)
    nspark = min(ntasks, slots) if barrier else ntasks
    concurrent = plan["command"] == "run"   # a run's shards meet to gather: all at once
    print(f"sluice_spark: {command} {plan['run_id']}: {ntasks} sluice task(s) on {nspark} Spark task(s)"
          f"{' in one barrier stage (snapshot across executors)' if snapshot else ''}", flush=True)

    fn = make_task_fn(binary, plan_text, env_settings, dotenv, barrier, snapshot, concurrent, nspark)
    rdd = sc.parallelize(range(nspark), nspark)
    rdd = rdd.barrier().mapPartitionsWithIndex(fn) if barrier else rdd.mapPartitionsWithIndex(fn)
    try:
        lines = rdd.collect()
    except Exception as e:  # every attempt of a task failed: nothing is committed
        why = re.findall(r"sluice task \d+ exited .*", str(e))
        msg = why[0] if why else (str(e).splitlines() or [type(e).__name__])[0]
        sys.stderr.write(f"sluice_spark: a task failed on every attempt, nothing was committed: {msg}\n")
        return 1
    t1 = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="sluice-commit-") as d:
        plan_path, res_path = os.path.join(d, "plan.json"), os.path.join(d, "results.jsonl")
        Path(plan_path).write_text(plan_text)
        Path(res_path).write_text("\n".join(lines) + "\n")
        c = subprocess.run([binary, *gflags, "commit", plan_path, res_path, "--engine", "spark",
                            "--application-id", sc.applicationId], env=driver_env)
    print(f"sluice_spark: Spark context {t_ctx - t_start:.1f} s, plan {t_plan - t0:.1f} s, tasks {t1 - t_plan:.1f} s, "
          f"commit {time.monotonic() - t1:.1f} s; application {sc.applicationId}", flush=True)
    return c.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
