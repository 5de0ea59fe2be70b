#!/usr/bin/env python3
"""The nightly job on a local Ballista cluster against the local engine, side by side.

    cargo build --release --locked --features ballista
    python3 benches/cluster.py --customers 2000,100000 --runs 3 [--executors 2 --cores 1]

For each size: the exports from `vitals sample-data` (as benches/compare.py makes them, and
reused from --work), the sample pipeline over them with the churn model on and
`[run] partitions = --partitions`. Then, alternately, `vitals run --engine local` and
`vitals run --engine ballista://localhost:PORT` against a cluster of one scheduler and
--executors executors of --cores task slots and --executor-memory each (`vitals cluster
scheduler|executor`, started afresh for every run and not timed), each run timed by
`/usr/bin/time -v`. Prints markdown: median wall and CPU seconds and peak RSS of the
driver (the `vitals run` process), the summed peak RSS of the cluster's processes (their
VmHWM; their CPU is not in the driver's), the ratio to the local engine, seconds per
stage, and whether the two engines published the same tables (benches/same_outputs.py).
"""

import argparse
import json
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import time

from compare import AS_OF, REPO, STAGES, default_vitals, exports, pipeline_file, timed

SCHEDULER_PORT = 50050


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="2000,100000", help="comma-separated portfolio sizes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--executors", type=int, default=2)
    parser.add_argument("--cores", type=int, default=1, help="task slots per executor")
    parser.add_argument("--partitions", type=int, default=2, help="[run] partitions, for both engines")
    parser.add_argument("--executor-memory", default="1 GiB",
                        help="each executor's --memory-limit (the local engine has [run] memory_limit, 2 GiB)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--vitals", type=pathlib.Path, default=default_vitals(),
                        help="a vitals built with --features ballista")
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/vitals-bench"))
    return parser.parse_args()


def wait_for_port(port: int, process: subprocess.Popen, log: pathlib.Path) -> None:
    for _ in range(200):
        if process.poll() is not None:
            sys.exit(f"a cluster process exited ({process.returncode}):\n{log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"nothing listens on port {port} after 10 s; see {log}")


class Cluster:
    """A scheduler and its executors, each a `vitals cluster` process."""

    def __init__(self, args, folder: pathlib.Path):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.processes = []
        self.start(args.vitals, folder / "scheduler.log",
                   ["scheduler", "--bind", f"127.0.0.1:{SCHEDULER_PORT}"], SCHEDULER_PORT)
        for n in range(args.executors):
            port = SCHEDULER_PORT + 1 + 2 * n  # its Flight port; gRPC takes the next
            self.start(args.vitals, folder / f"executor-{n}.log",
                       ["executor", "--scheduler", f"localhost:{SCHEDULER_PORT}", "--bind", f"127.0.0.1:{port}",
                        "--cores", str(args.cores), "--memory-limit", args.executor_memory,
                        "--work-dir", str(folder / f"executor-{n}")], port)
        time.sleep(1.0)  # the executors register with the scheduler on their first heartbeat

    def start(self, vitals: pathlib.Path, log: pathlib.Path, args: list[str], port: int) -> None:
        with log.open("wb") as output:
            process = subprocess.Popen([str(vitals), "cluster", *args], stdout=output, stderr=output)
        self.processes.append(process)
        wait_for_port(port, process, log)

    def peak_rss_mib(self) -> float:
        """The summed peak resident memory of the cluster's processes so far."""
        total = 0
        for process in self.processes:
            status = pathlib.Path(f"/proc/{process.pid}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        return total / 1024

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)


def with_partitions(pipeline: pathlib.Path, partitions: int) -> pathlib.Path:
    path = pipeline.with_name(f"{pipeline.stem}-partitions-{partitions}.toml")
    path.write_text(pipeline.read_text().replace("[run]\n", f"[run]\npartitions = {partitions}\n", 1))
    return path


def main() -> None:
    args = parse_args()
    if not args.vitals.is_file():
        sys.exit(f"{args.vitals} is missing: cargo build --release --locked --features ballista")
    args.work.mkdir(parents=True, exist_ok=True)
    engines = {"local": "local", "cluster": f"ballista://localhost:{SCHEDULER_PORT}"}
    rows = []
    for customers in [int(n) for n in args.customers.split(",")]:
        data = exports(args.vitals, args.work, customers, args.seed)
        pipeline = with_partitions(pipeline_file(args.work, data, True, REPO / "sql"), args.partitions)
        runs = args.work / "cluster-runs" / str(customers)
        runs.mkdir(parents=True, exist_ok=True)
        results = {name: [] for name in engines}
        for round_ in range(args.runs):
            for name in (list(engines) if round_ % 2 == 0 else list(engines)[::-1]):
                out = runs / name
                cluster = Cluster(args, runs / "processes") if name == "cluster" else None
                command = [str(args.vitals), "run", str(pipeline), "--quiet", "--out", str(out),
                           "--engine", engines[name]]
                try:
                    measured = timed(command, out, runs / f"{name}.log")
                    measured["cluster_rss_mib"] = cluster.peak_rss_mib() if cluster else 0.0
                finally:
                    if cluster:
                        cluster.stop()
                manifest = json.loads((out / "runs" / AS_OF / "manifest.json").read_text())
                measured["stages"] = manifest["stage_seconds"]
                results[name].append(measured)
                print(f"  {customers:>9,} customers, run {round_ + 1}/{args.runs}, {name}: "
                      f"{measured['wall']:.2f} s", file=sys.stderr)
        same = subprocess.run([sys.executable, str(REPO / "benches" / "same_outputs.py"),
                               str(runs / "local"), str(runs / "cluster")], capture_output=True, text=True)
        verdict = same.stdout.strip().splitlines()[-1] if same.stdout.strip() else same.stderr.strip()
        local_wall = statistics.median(r["wall"] for r in results["local"])
        for name, measured in results.items():
            wall = statistics.median(r["wall"] for r in measured)
            stages = ", ".join(f"{s} {statistics.median(r['stages'].get(s, 0.0) for r in measured):.1f}"
                               for s in STAGES)
            rows.append(f"| {customers:,} | {name} | {wall:.2f} | "
                        f"{statistics.median(r['cpu'] for r in measured):.2f} | "
                        f"{max(r['rss_mib'] for r in measured):,.0f} | "
                        f"{max(r['cluster_rss_mib'] for r in measured):,.0f} | {wall / local_wall:.2f} | {stages} |")
        rows.append(f"| {customers:,} | tables | {verdict} | | | | | |")
    print(f"\n{args.executors} executors × {args.cores} task slots and {args.executor_memory}, "
          f"{args.partitions} partitions per query; "
          f"median of {args.runs} runs; seconds and MiB\n")
    print("| customers | engine | wall | driver CPU | driver RSS | cluster RSS | / local | seconds per stage |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
