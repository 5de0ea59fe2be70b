#!/usr/bin/env python3
"""vitals vs DuckDB on the same nightly job, at several portfolio sizes.

    python3 benches/compare.py --customers 10000,100000,1000000 --runs 5 [--with-churn | --churn-only]

For each size: generate the exports once with `vitals sample-data` (kept in --work and
reused), write pipeline files for them (pipelines/sample.toml with absolute paths, --sql-dir
as its SQL folder, the churn model off or on), then run the tools of each pair alternately,
each into a fresh output folder, each timed by `/usr/bin/time -v` (children included).
Prints markdown: median wall time, CPU time (user + sys) and peak RSS per tool, each pair's
wall-time ratio, vitals' seconds per stage from its run manifest, the analyst's re-score
(`vitals score`) on vitals' last output, and a check at the smallest size that both sides
computed the same scores (and, with the churn pair, the same training set and AUC).

The pairs, each the same work on both sides:
  * SQL job (default): `vitals run` with `[churn] enabled = false` against
    benches/duckdb_nightly.py (see the header of duckdb_nightly.sql for the differences).
  * whole job (--with-churn; --churn-only runs it alone): `vitals run` with
    `[churn] enabled = true` against `benches/duckdb_churn.py --data`: duckdb_nightly.py's
    job, then DuckDB snapshots, a scikit-learn logistic regression and scoring, in one
    Python process (see the headers of duckdb_churn.sql and duckdb_churn.py).
Each tool runs with its defaults (both may use every core). The order alternates every
round so that neither tool always runs first, after --warmup untimed rounds.
"""

import argparse
import functools
import json
import math
import os
import pathlib
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib
from typing import Callable, NamedTuple

REPO = pathlib.Path(__file__).resolve().parent.parent
PIPELINE = REPO / "pipelines" / "sample.toml"
DUCKDB_JOB = REPO / "benches" / "duckdb_nightly.py"
DUCKDB_CHURN = REPO / "benches" / "duckdb_churn.py"
TIME = "/usr/bin/time"
# The pipeline's as-of date: vitals reads it there, sample-data ends on it, DuckDB is told it.
AS_OF = str(tomllib.loads(PIPELINE.read_text(encoding="utf-8"))["run"]["as_of"])
STAGES = ["ingest", "transform", "model", "publish"]
# Published tables compared by row count in the sanity check (customer_health in detail).
OTHER_TABLES = ["customer_metrics", "kpis", "alerts", "rejects"]


def default_vitals() -> pathlib.Path:
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    return (target if target.is_absolute() else REPO / target) / "release" / "vitals"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="10000,100000,1000000", help="comma-separated portfolio sizes")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool and size")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds per size first")
    parser.add_argument("--vitals", type=pathlib.Path, default=default_vitals(),
                        help="the vitals binary (default: ${CARGO_TARGET_DIR:-target}/release/vitals, "
                             "a relative target folder taken from the repository root)")
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path(tempfile.gettempdir()) / "vitals-bench",
                        help="where exports are generated (and reused) and runs write")
    parser.add_argument("--seed", type=int, default=42, help="sample-data seed")
    parser.add_argument("--sql-dir", type=pathlib.Path, default=REPO / "sql",
                        help="the SQL models vitals runs (the pipeline's sql_dir; default: the repository's sql/)")
    parser.add_argument("--with-churn", action="store_true",
                        help="also time the whole job: vitals with its churn model against duckdb_nightly.py + "
                             "duckdb_churn.py")
    parser.add_argument("--churn-only", action="store_true",
                        help="time only the whole-job pair (skip the churn-off SQL pair)")
    args = parser.parse_args()
    args.pairs = (["sql"] if not args.churn_only else []) + (["churn"] if args.with_churn or args.churn_only else [])
    args.customers = [int(n.replace("_", "")) for n in args.customers.split(",")]
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    for tool in (args.vitals, pathlib.Path(TIME)):
        if not os.access(tool, os.X_OK):
            parser.error(f"{tool} is not an executable file")
    if shutil.which("iconv") is None:
        parser.error("iconv is not on PATH (the DuckDB job converts the GBK export with it)")
    if not (args.sql_dir / "customer_health.sql").is_file():
        parser.error(f"{args.sql_dir} holds no SQL models (no customer_health.sql)")
    args.vitals = args.vitals.resolve()
    args.work = args.work.resolve()
    args.sql_dir = args.sql_dir.resolve()
    return args


def exports(vitals: pathlib.Path, work: pathlib.Path, customers: int, seed: int) -> pathlib.Path:
    """The exports of `customers` customers, generated once: an interrupted generation is
    left in a .partial folder and never reused."""
    data = work / f"data-{customers}-seed{seed}"
    if not data.is_dir():
        partial = data.with_name(data.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run([str(vitals), "sample-data", "--quiet", "--customers", str(customers), "--seed", str(seed),
                        "--end", AS_OF, "--out", str(partial)], check=True)
        partial.rename(data)
    return data


@functools.cache
def pipeline_file(work: pathlib.Path, data: pathlib.Path, churn: bool, sql_dir: pathlib.Path) -> pathlib.Path:
    """pipelines/sample.toml pointing at `data` and `sql_dir`, churn model on or off."""
    text = PIPELINE.read_text(encoding="utf-8")
    text = re.sub(r'^(path = )"\.\./sample_data/([^"]+)"', lambda m: f'{m[1]}"{data / m[2]}"', text, flags=re.M)
    text = re.sub(r'^(sql_dir = )"[^"]+"', lambda m: f'{m[1]}"{sql_dir}"', text, flags=re.M)
    text += f"\n[churn]\nenabled = {'true' if churn else 'false'}\n"
    sources = tomllib.loads(text)["sources"]  # also refuses a second [churn] table
    missing = [s["path"] for s in sources.values() if not pathlib.Path(s["path"]).is_file()]
    if missing:
        sys.exit(f"{PIPELINE} no longer maps onto the sample-data exports: missing {missing}")
    path = work / f"{data.name}-churn-{'on' if churn else 'off'}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def reweighted(pipeline: pathlib.Path) -> pathlib.Path:
    """`pipeline` with the value and engagement dimensions weighted 0.25 each (0.30 and 0.20
    in the sample): the analyst's typical change, which re-scores customer_health and what
    reads it."""
    text = pipeline.read_text(encoding="utf-8")
    weights = re.search(r"^\[health\.weights\].*?(?=^\[)", text, flags=re.M | re.S)
    changed = re.sub(r"^(value|engagement) = [0-9.]+", r"\1 = 0.25", weights[0], flags=re.M)
    if changed == weights[0]:
        sys.exit(f"{pipeline}: no value and engagement weights under [health.weights] to change")
    path = pipeline.with_name(pipeline.stem + "-reweighted.toml")
    path.write_text(text[:weights.start()] + changed + text[weights.end():], encoding="utf-8")
    return path


def timed(command: list[str], out: pathlib.Path, log: pathlib.Path) -> dict:
    """Runs `command` under /usr/bin/time -v; its wall and CPU seconds and peak RSS."""
    shutil.rmtree(out, ignore_errors=True)
    report = log.with_suffix(".time")
    with log.open("wb") as stderr:
        done = subprocess.run([TIME, "-v", "-o", str(report), *command], stdout=subprocess.DEVNULL, stderr=stderr)
    if done.returncode != 0:
        sys.exit(f"failed (exit {done.returncode}): {' '.join(command)}\n{log.read_text(errors='replace')[-3000:]}")
    fields = dict(line.strip().rsplit(": ", 1) for line in report.read_text().splitlines() if ": " in line)
    wall = 0.0
    for part in fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":"):
        wall = wall * 60 + float(part)
    return {
        "wall": wall,
        "cpu": float(fields["User time (seconds)"]) + float(fields["System time (seconds)"]),
        "rss_mib": int(fields["Maximum resident set size (kbytes)"]) / 1024,
    }


class Tool(NamedTuple):
    name: str
    command: Callable[[pathlib.Path, pathlib.Path], list[str]]  # (exports, output folder) → argv
    stages: bool  # writes a vitals manifest with stage_seconds


def run_size(args, customers: int, tools: list[Tool]) -> dict:
    data = exports(args.vitals, args.work, customers, args.seed)
    runs = args.work / "runs" / str(customers)
    runs.mkdir(parents=True, exist_ok=True)
    results = {t.name: [] for t in tools}
    stage_seconds = {t.name: [] for t in tools}
    outs = {}
    for round_ in range(args.warmup + args.runs):
        # alternate which tool goes first, so order effects (cache, heat) fall on both
        order = tools if round_ % 2 == 0 else tools[::-1]
        for tool in order:
            slug = re.sub(r"[^A-Za-z0-9]+", "-", tool.name)
            out = outs[tool.name] = runs / slug
            measured = timed(tool.command(data, out), out, runs / f"{slug}.log")
            if round_ < args.warmup:
                continue
            results[tool.name].append(measured)
            if tool.stages:
                manifest = json.loads((out / "runs" / AS_OF / "manifest.json").read_text())
                stage_seconds[tool.name].append(manifest["stage_seconds"])
            print(f"  {customers:>9,} customers, run {round_ - args.warmup + 1}/{args.runs}, {tool.name}: "
                  f"{measured['wall']:.2f} s", file=sys.stderr)
    return {"data": data, "results": results, "stages": stage_seconds, "outs": outs}


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def size_mib(folder: pathlib.Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def scaling(name: str, sizes: list[int], walls: list[float]) -> str:
    steps = [f"{a:,}→{b:,} ×{wb / wa:.1f}" for a, b, wa, wb in zip(sizes, sizes[1:], walls, walls[1:])]
    exponent = math.log(walls[-1] / walls[0]) / math.log(sizes[-1] / sizes[0])
    return f"- {name}: wall time {'; '.join(steps)} (∝ customers^{exponent:.2f})"


def sanity_check(vitals_out: pathlib.Path, duckdb_out: pathlib.Path) -> None:
    """Both runs' outputs side by side: tier counts, mean score, table sizes, and how many
    customers got the very same score, tier and RFM cell."""
    import duckdb  # the DuckDB job needs it anyway; the rest of this script is stdlib only

    con = duckdb.connect()

    def table(out: pathlib.Path, name: str) -> str:
        return f"read_parquet('{out / name}/*/*.parquet', hive_partitioning = false)"

    def figures(out: pathlib.Path) -> list:
        health = table(out, "customer_health")
        row = con.sql(f"""
            SELECT COUNT(*), ROUND(AVG(health_score), 4),
                   COUNT(*) FILTER (WHERE health_tier = 'healthy'), COUNT(*) FILTER (WHERE health_tier = 'sub_healthy'),
                   COUNT(*) FILTER (WHERE health_tier = 'at_risk'), COUNT(*) FILTER (WHERE health_tier = 'lost')
            FROM {health}
        """).fetchall()[0]
        return [*row, *(con.sql(f"SELECT COUNT(*) FROM {table(out, t)}").fetchall()[0][0] for t in OTHER_TABLES)]

    labels = ["customers", "mean health_score", "healthy", "sub_healthy", "at_risk", "lost",
              *(f"{t} rows" for t in OTHER_TABLES)]
    print("| | vitals | DuckDB |\n|---|---:|---:|")
    for label, a, b in zip(labels, figures(vitals_out), figures(duckdb_out)):
        print(f"| {label} | {a} | {b} |")
    total, score, tier, cell, worst = con.sql(f"""
        SELECT
            COUNT(*),
            COUNT(*) FILTER (WHERE v.health_score IS NOT DISTINCT FROM d.health_score),
            COUNT(*) FILTER (WHERE v.health_tier = d.health_tier),
            COUNT(*) FILTER (WHERE v.rfm_cell = d.rfm_cell),
            COALESCE(MAX(ABS(v.health_score - d.health_score)), 0)
        FROM {table(vitals_out, "customer_health")} AS v
        FULL JOIN {table(duckdb_out, "customer_health")} AS d USING (customer_id)
    """).fetchall()[0]
    print(f"\nPer customer (full join on customer_id): {score:,} of {total:,} have the same health_score, "
          f"{tier:,} the same tier, {cell:,} the same RFM cell; largest health_score difference {worst:g}.")
    total, same, value_diff, score_diff = con.sql(f"""
        SELECT
            COUNT(*),
            COUNT(*) FILTER (WHERE v.value IS NOT DISTINCT FROM d.value AND v.score IS NOT DISTINCT FROM d.score),
            COALESCE(MAX(ABS(v.value - d.value) / GREATEST(ABS(v.value), 1)), 0),
            COALESCE(MAX(ABS(v.score - d.score)), 0)
        FROM {table(vitals_out, "customer_metrics")} AS v
        FULL JOIN {table(duckdb_out, "customer_metrics")} AS d USING (customer_id, metric)
    """).fetchall()[0]
    # Sums of floats in another order differ in their last bits; rounded scores do not.
    print(f"Per metric (full join on customer_id, metric): {same:,} of {total:,} have bit-identical value and score; "
          f"largest relative value difference {value_diff:.1e}, largest score difference {score_diff:.1e}.")


class Pair(NamedTuple):
    name: str
    vitals: str  # tool names
    peer: str


PAIRS = {
    "sql": Pair("SQL job, churn model off", "vitals", "DuckDB"),
    "churn": Pair("whole job, churn model on", "vitals churn", "DuckDB churn"),
}


def churn_check(vitals_out: pathlib.Path, peer_out: pathlib.Path) -> None:
    """The churn model on both sides: training set, validation AUC, agreement of the scores."""
    import duckdb

    con = duckdb.connect()
    manifest = json.loads((vitals_out / "runs" / AS_OF / "manifest.json").read_text())["churn"]
    peer = json.loads((peer_out / "models" / "churn" / f"as_of={AS_OF}" / "model.json").read_text())

    def auc(out: pathlib.Path, scorer: str):
        rows = con.execute(f"""SELECT value FROM read_parquet('{out}/model_metrics/*/*.parquet')
                               WHERE scorer = '{scorer}' AND metric = 'roc_auc'""").fetchall()
        return f"{rows[0][0]:.4f}" if rows else "none"

    print("\n| churn model | vitals | DuckDB + scikit-learn |\n|---|---:|---:|")
    for label, a, b in [
        ("status", manifest["status"], peer["status"]),
        ("snapshots", ", ".join(manifest["snapshots"]), ", ".join(peer["snapshots"])),
        ("training rows", f"{manifest['training_customers']:,}", f"{peer['training_customers']:,}"),
        ("training churners", f"{manifest['training_churners']:,}", f"{peer['training_churners']:,}"),
        ("out-of-time ROC AUC, model", auc(vitals_out, "model"), auc(peer_out, "model")),
        ("out-of-time ROC AUC, R + F baseline", auc(vitals_out, "baseline"), auc(peer_out, "baseline")),
    ]:
        print(f"| {label} | {a} | {b} |")
    health = "read_parquet('{}/customer_health/*/*.parquet', hive_partitioning = false)"
    scored, worst, bands = con.execute(f"""
        SELECT COUNT(*) FILTER (WHERE v.churn_risk IS NOT NULL AND d.churn_risk IS NOT NULL),
               COALESCE(MAX(ABS(v.churn_risk - d.churn_risk)), 0),
               COUNT(*) FILTER (WHERE v.risk_band = d.risk_band)
        FROM {health.format(vitals_out)} AS v FULL JOIN {health.format(peer_out)} AS d USING (customer_id)
    """).fetchall()[0]
    print(f"\nchurn_risk of {scored:,} customers scored by both: largest difference {worst:.1e}, "
          f"{bands:,} in the same risk band. benches/check_churn.py compares the features row by row.")


def main() -> None:
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    def vitals(churn: bool):
        def command(data: pathlib.Path, out: pathlib.Path) -> list[str]:
            pipeline = pipeline_file(args.work, data, churn, args.sql_dir)
            return [str(args.vitals), "run", str(pipeline), "--out", str(out), "--quiet"]
        return command

    def duckdb_job(data: pathlib.Path, out: pathlib.Path) -> list[str]:
        return [sys.executable, str(DUCKDB_JOB), "--data", str(data), "--out", str(out), "--as-of", AS_OF]

    def duckdb_whole_job(data: pathlib.Path, out: pathlib.Path) -> list[str]:
        # duckdb_nightly.py's job, then the churn model, in one process
        return [sys.executable, str(DUCKDB_CHURN), "--data", str(data), "--out", str(out), "--as-of", AS_OF]

    tools = []
    if "sql" in args.pairs:
        tools += [Tool("vitals", vitals(False), True), Tool("DuckDB", duckdb_job, False)]
    if "churn" in args.pairs:
        tools += [Tool("vitals churn", vitals(True), True), Tool("DuckDB churn", duckdb_whole_job, False)]
    pairs = [PAIRS[p] for p in args.pairs]

    versions = subprocess.run(
        [sys.executable, "-c", "import duckdb, sklearn, numpy; print(duckdb.__version__, sklearn.__version__, "
                               "numpy.__version__)" if "churn" in args.pairs else "import duckdb; print(duckdb.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    vitals_version = subprocess.run([str(args.vitals), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"# vitals vs DuckDB, as of {AS_OF}\n")
    libraries = f"DuckDB {versions[0]}" + (f", scikit-learn {versions[1]}, NumPy {versions[2]}" if len(versions) > 1 else "")
    print(f"{vitals_version} ({args.vitals}, SQL models {args.sql_dir}), {libraries}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.platform()}. Median of {args.runs} runs after {args.warmup} warm-up "
          f"round(s); wall in seconds (min–max), CPU = user + sys seconds, RSS = peak resident MiB.")
    if "sql" in args.pairs:
        print("`vitals` runs with its churn model off, as `DuckDB` (benches/duckdb_nightly.sql) has none.")
    if "churn" in args.pairs:
        print("`vitals churn` runs with its churn model on; `DuckDB churn` is `duckdb_churn.py --data`: the nightly "
              "job of duckdb_nightly.py, then DuckDB snapshots, scikit-learn fit and scoring, in one process.")
    print()

    sizes = sorted(args.customers)
    measured = {n: run_size(args, n, tools) for n in sizes}

    header = ["customers", "exports MiB"]
    for t in tools:
        header += [f"{t.name} wall", f"{t.name} CPU", f"{t.name} RSS"]
    header += [f"{p.vitals} / {p.peer} wall" for p in pairs]
    print("| " + " | ".join(header) + " |")
    print("|" + "---:|" * len(header))
    for n in sizes:
        m = measured[n]
        cells = [f"{n:,}", f"{size_mib(m['data']):,.0f}"]
        for t in tools:
            runs = m["results"][t.name]
            walls = [r["wall"] for r in runs]
            cells += [f"{median(runs, 'wall'):.2f} ({min(walls):.2f}–{max(walls):.2f})",
                      f"{median(runs, 'cpu'):.2f}", f"{median(runs, 'rss_mib'):,.0f}"]
        for p in pairs:
            cells.append(f"{median(m['results'][p.vitals], 'wall') / median(m['results'][p.peer], 'wall'):.2f}")
        print("| " + " | ".join(cells) + " |")
    print("\nRatios: " + "; ".join(f"{p.vitals} / {p.peer} is the {p.name} (below 1: vitals is faster)" for p in pairs)
          + ".")

    if len(sizes) > 1:
        print("\nScaling:")
        for t in tools:
            print(scaling(t.name, sizes, [median(measured[n]["results"][t.name], "wall") for n in sizes]))

    for t in (t for t in tools if t.stages):
        print(f"\n{t.name}: median seconds per stage (manifest stage_seconds); other = wall minus the stages: "
              f"process start-up, lock, staging, commit and manifest.\n")
        print("| customers | " + " | ".join(STAGES) + " | other | wall |\n|" + "---:|" * (len(STAGES) + 3))
        for n in sizes:
            per_stage = [statistics.median(s[stage] for s in measured[n]["stages"][t.name]) for stage in STAGES]
            wall = median(measured[n]["results"][t.name], "wall")
            cells = [*per_stage, wall - sum(per_stage), wall]
            print(f"| {n:,} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")

    rescored = tools[0]  # vitals, churn off when that pair ran
    churn = rescored.name == "vitals churn"
    print(f"\nAnalyst re-score (`vitals score`{' with the saved churn model' if churn else ''}: the SQL models over "
          f"the last run's bronze tables, no exports read), median of the same number of runs:\n")
    print("| customers | rules | wall | CPU | RSS |\n|---:|---|---:|---:|---:|")
    for n in sizes:
        out = measured[n]["outs"][rescored.name]
        pipeline = pipeline_file(args.work, measured[n]["data"], churn, args.sql_dir)
        for rules, file in [("unchanged", pipeline), ("weights changed", reweighted(pipeline))]:
            command = [str(args.vitals), "score", str(file), "--out", str(out), "--quiet"]
            log = args.work / "runs" / str(n) / "score.log"
            runs = [timed(command, out / "drafts", log) for _ in range(args.runs)]
            print(f"| {n:,} | {rules} | {median(runs, 'wall'):.2f} | {median(runs, 'cpu'):.2f} "
                  f"| {median(runs, 'rss_mib'):,.0f} |")

    print(f"\nSanity check at {sizes[0]:,} customers, on the last run of each tool:\n")
    first = pairs[0]
    sanity_check(measured[sizes[0]]["outs"][first.vitals], measured[sizes[0]]["outs"][first.peer])
    if "churn" in args.pairs:
        churn_check(measured[sizes[0]]["outs"]["vitals churn"], measured[sizes[0]]["outs"]["DuckDB churn"])


if __name__ == "__main__":
    main()
