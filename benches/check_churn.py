#!/usr/bin/env python3
"""Do vitals and the churn peer (benches/duckdb_churn.py) learn from the same data?

    python3 benches/check_churn.py VITALS_OUT PEER_OUT [--snapshot DATE|as-of]
                                   [--pipeline FILE --vitals BIN]

VITALS_OUT is the output folder of a `vitals run` with the churn model on, PEER_OUT that of
duckdb_nightly.py + duckdb_churn.py on the same exports and date. Prints markdown:

  * the churn features of one snapshot, row by row (full join on customer_id): customers on
    one side only, and per feature how many values are bit-identical, how many differ by
    more than 1e-9 relative, and the largest relative difference, with a few examples.
    --snapshot is a training date (default: the newest, the out-of-time validation's test
    snapshot) or `as-of` (the run date's features, the customers scored). vitals keeps its
    churn features in a work table it removes, so they are taken from a churn_features
    table in VITALS_OUT (published, or a draft) when there is one, else computed with
    --vitals from a copy of --pipeline that publishes churn_features (churn model off):
    `vitals score --as-of` on VITALS_OUT's bronze tables for the run date (into its
    drafts/), `vitals run --as-of DATE` into a temporary folder for a training date;
  * the whole training set through the fitted models (model.json): the per-feature means
    and standard deviations both sides standardize with (over every training row of every
    snapshot), the coefficients and the intercept;
  * the out-of-time validation of both: test snapshot, customers, churners, ROC AUC and
    PR AUC of the model and of the R + F baseline (model_metrics);
  * churn_risk of the customers both scored.
Exits 1 when the features or the validation's test set differ.
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import duckdb

NOT_FEATURES = ("customer_id", "as_of", "churned", "rf_score")


def literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def glob(folder: pathlib.Path) -> str:
    return f"read_parquet({literal(folder / '*.parquet')}, hive_partitioning = false)"


def feature_copy(pipeline: pathlib.Path, folder: pathlib.Path) -> pathlib.Path:
    """A copy of `pipeline` in `folder`: paths made absolute, churn_features published, the
    churn model off."""
    text = pipeline.read_text(encoding="utf-8")
    base = pipeline.resolve().parent

    def absolute(m: re.Match) -> str:
        path = pathlib.Path(m[2])
        return f'{m[1]}"{path if path.is_absolute() else (base / path).resolve()}"'

    text = re.sub(r'^((?:path|sql_dir|out) = )"([^"]+)"', absolute, text, flags=re.M)
    text, published = re.subn(r'^(publish = \[)([^\]]*)\]', lambda m: f'{m[1]}{m[2]}, "churn_features"]', text,
                              count=1, flags=re.M)
    if not published:
        sys.exit(f"{pipeline} has no `publish = [...]` line to add churn_features to")
    if re.search(r"^\[churn\]", text, flags=re.M):
        text = re.sub(r"(^\[churn\][^\[]*?^enabled = )\w+", r"\1false", text, count=1, flags=re.M | re.S)
    else:
        text += "\n[churn]\nenabled = false\n"
    copy = folder / "check_churn.toml"
    copy.write_text(text, encoding="utf-8")
    return copy


def vitals_features(args, snapshot: str, as_of: str, scratch: pathlib.Path) -> pathlib.Path:
    """The folder holding vitals' churn_features as of `snapshot`."""
    for folder in (args.vitals_out / "churn_features" / f"as_of={snapshot}",
                   args.vitals_out / "drafts" / "churn_features" / f"as_of={snapshot}"):
        if list(folder.glob("*.parquet")):
            return folder
    if not (args.pipeline and args.vitals):
        sys.exit(f"no churn_features as of {snapshot} in {args.vitals_out}: pass --pipeline and --vitals to compute "
                 f"them, or publish churn_features in the run")
    copy = feature_copy(args.pipeline, scratch)
    if snapshot == as_of:
        command = [str(args.vitals), "score", str(copy), "--as-of", snapshot, "--out", str(args.vitals_out), "--quiet"]
        folder = args.vitals_out / "drafts" / "churn_features" / f"as_of={snapshot}"
    else:
        out = scratch / "vitals-out"
        command = [str(args.vitals), "run", str(copy), "--as-of", snapshot, "--out", str(out), "--quiet"]
        folder = out / "churn_features" / f"as_of={snapshot}"
    print(f"computing vitals' churn features as of {snapshot}: {' '.join(command)}", file=sys.stderr)
    subprocess.run(command, check=True)
    return folder


def compare_features(con, vitals: str, peer: str, show: int) -> bool:
    columns = [name for name, *_ in con.execute(f"DESCRIBE SELECT * FROM {vitals}").fetchall()]
    peer_columns = [name for name, *_ in con.execute(f"DESCRIBE SELECT * FROM {peer}").fetchall()]
    features = [c for c in columns if c not in NOT_FEATURES]
    peer_features = [c for c in peer_columns if c not in NOT_FEATURES]
    same = True
    if features != peer_features:
        print(f"feature columns differ:\n- vitals: {features}\n- peer:   {peer_features}\n")
        same = False
    features = [c for c in features if c in peer_features]
    both, only_v, only_p = con.execute(f"""
        SELECT COUNT(*) FILTER (WHERE v.customer_id IS NOT NULL AND p.customer_id IS NOT NULL),
               COUNT(*) FILTER (WHERE p.customer_id IS NULL), COUNT(*) FILTER (WHERE v.customer_id IS NULL)
        FROM {vitals} AS v FULL JOIN {peer} AS p USING (customer_id)
    """).fetchall()[0]
    print(f"customers: {both:,} on both sides, {only_v:,} only in vitals, {only_p:,} only in the peer\n")
    same &= only_v == 0 and only_p == 0
    print("| feature | bit-identical | differ > 1e-9 rel. | largest rel. difference | NULL in vitals | NULL in peer |")
    print("|---|---:|---:|---:|---:|---:|")
    examples = []
    for c in features:
        q = f'"{c}"'
        identical, far, worst, null_v, null_p = con.execute(f"""
            SELECT COUNT(*) FILTER (WHERE v.{q} IS NOT DISTINCT FROM p.{q}),
                   COUNT(*) FILTER (WHERE (v.{q} IS NULL) <> (p.{q} IS NULL)
                                       OR abs(v.{q} - p.{q}) > 1e-9 * greatest(abs(v.{q}), abs(p.{q}))),
                   COALESCE(MAX(abs(v.{q} - p.{q}) / NULLIF(greatest(abs(v.{q}), abs(p.{q})), 0)), 0),
                   COUNT(*) FILTER (WHERE v.{q} IS NULL), COUNT(*) FILTER (WHERE p.{q} IS NULL)
            FROM {vitals} AS v JOIN {peer} AS p USING (customer_id)
        """).fetchall()[0]
        print(f"| {c} | {identical:,} | {far:,} | {worst:.1e} | {null_v:,} | {null_p:,} |")
        same &= far == 0
        if identical < both and len(examples) < show:
            examples += [(c, *row) for row in con.execute(f"""
                SELECT customer_id, v.{q}, p.{q} FROM {vitals} AS v JOIN {peer} AS p USING (customer_id)
                WHERE v.{q} IS DISTINCT FROM p.{q} ORDER BY customer_id LIMIT 2
            """).fetchall()]
    if examples:
        print("\nExamples (feature, customer, vitals, peer): " + "; ".join(
            f"{c} {cid} {a!r} vs {b!r}" for c, cid, a, b in examples[:show]))
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vitals_out", type=pathlib.Path, help="output folder of `vitals run` with the churn model on")
    parser.add_argument("peer_out", type=pathlib.Path, help="output folder of duckdb_nightly.py + duckdb_churn.py")
    parser.add_argument("--snapshot", help="a training date (default: the newest), or `as-of` for the run date")
    parser.add_argument("--pipeline", type=pathlib.Path, help="the pipeline vitals ran (to compute its features)")
    parser.add_argument("--vitals", type=pathlib.Path, help="the vitals binary (to compute its features)")
    parser.add_argument("--show", type=int, default=6, help="differing values to print")
    args = parser.parse_args()

    models = sorted((args.peer_out / "models" / "churn").glob("as_of=*/model.json"))
    if not models:
        sys.exit(f"no models/churn/as_of=*/model.json in {args.peer_out}: run duckdb_churn.py first")
    peer_model = json.loads(models[-1].read_text())
    as_of = peer_model["trained_as_of"]
    manifest_file = args.vitals_out / "runs" / as_of / "manifest.json"
    if not manifest_file.is_file():
        sys.exit(f"no run as of {as_of} in {args.vitals_out} ({manifest_file} is missing)")
    churn = json.loads(manifest_file.read_text())["churn"]
    snapshot = {None: peer_model["snapshots"][0], "as-of": as_of}.get(args.snapshot, args.snapshot)
    con = duckdb.connect()
    ok = True

    print(f"# vitals vs the churn peer, run of {as_of}\n")
    print(f"Snapshots: vitals {', '.join(churn['snapshots'])}; peer {', '.join(peer_model['snapshots'])}. "
          f"Training rows {churn['training_customers']:,} vs {peer_model['training_customers']:,}, churners "
          f"{churn['training_churners']:,} vs {peer_model['training_churners']:,}.\n")
    ok &= churn["snapshots"] == peer_model["snapshots"]
    ok &= (churn["training_customers"], churn["training_churners"]) == \
        (peer_model["training_customers"], peer_model["training_churners"])

    with tempfile.TemporaryDirectory(prefix="check_churn-") as scratch:
        folder = vitals_features(args, snapshot, as_of, pathlib.Path(scratch))
        vitals_rows = glob(folder)
        if snapshot == as_of:
            peer_rows = glob(args.peer_out / "churn_features" / f"as_of={as_of}")
        else:
            peer_rows = (f"(SELECT * FROM {glob(args.peer_out / 'churn_training' / f'as_of={as_of}')} "
                         f"WHERE as_of = DATE {literal(snapshot)})")
        print(f"## Churn features as of {snapshot}{' (the run date: customers scored)' if snapshot == as_of else ''}\n")
        print(f"vitals: {folder}\n")
        ok &= compare_features(con, vitals_rows, peer_rows, args.show)

    vitals_model_file = args.vitals_out / "models" / "churn" / f"as_of={as_of}" / "model.json"
    if vitals_model_file.is_file() and "coefficients" in peer_model:
        vitals_model = json.loads(vitals_model_file.read_text())
        print("\n## The fitted models (every training row of every snapshot)\n")
        print("| feature | mean, vitals | mean, peer | sd, vitals | sd, peer | coefficient, vitals | coefficient, peer |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for i, name in enumerate(vitals_model["features"]):
            j = peer_model["features"].index(name) if name in peer_model["features"] else None
            def peer(key: str, spec: str = ".6g") -> str:
                return format(peer_model[key][j], spec) if j is not None else "—"
            print(f"| {name} | {vitals_model['means'][i]:.6g} | {peer('means')} | {vitals_model['stds'][i]:.6g} | "
                  f"{peer('stds')} | {vitals_model['coefficients'][i]:+.4f} | {peer('coefficients', '+.4f')} |")
        print(f"| (intercept) | | | | | {vitals_model['intercept']:+.4f} | {peer_model['intercept']:+.4f} |")
        same_moments = all(vitals_model[k] == [peer_model[k][peer_model["features"].index(n)]
                                               for n in vitals_model["features"]] for k in ("means", "stds")) \
            if vitals_model["features"] == peer_model["features"] else False
        print(f"\nMeans and standard deviations {'bit-identical' if same_moments else 'DIFFER'} "
              f"(they summarize every training row).")

    print("\n## Out-of-time validation\n")
    metrics = {}
    for side, out in (("vitals", args.vitals_out), ("peer", args.peer_out)):
        rows = con.execute(f"""
            SELECT scorer, metric, value, customers FROM {glob(out / 'model_metrics' / f'as_of={as_of}')}
            WHERE metric IN ('roc_auc', 'pr_auc')
        """).fetchall()
        metrics[side] = {(s, m): (v, n) for s, m, v, n in rows}
    v_val, p_val = churn.get("validation"), peer_model.get("validation")
    print(f"Test snapshot: vitals {v_val and v_val['test_snapshot']}, peer {p_val and p_val['test_snapshot']}; "
          f"customers {v_val and v_val['model']['customers']:,} vs {p_val and p_val['model']['customers']:,}, churned "
          f"{v_val and v_val['model']['churned']:,} vs {p_val and p_val['model']['churned']:,}.\n")
    if v_val and p_val:
        ok &= (v_val["test_snapshot"], v_val["model"]["customers"], v_val["model"]["churned"]) == \
            (p_val["test_snapshot"], p_val["model"]["customers"], p_val["model"]["churned"])
    print("| scorer | ROC AUC, vitals | ROC AUC, peer | PR AUC, vitals | PR AUC, peer |\n|---|---:|---:|---:|---:|")
    for scorer in ("model", "baseline"):
        cells = [metrics[side].get((scorer, m), (float("nan"),))[0] for m in ("roc_auc", "pr_auc")
                 for side in ("vitals", "peer")]
        print(f"| {scorer} | {cells[0]:.4f} | {cells[1]:.4f} | {cells[2]:.4f} | {cells[3]:.4f} |")

    health = "read_parquet({}, hive_partitioning = false)"
    scored, worst, mean_diff, bands, drivers = con.execute(f"""
        SELECT COUNT(*), MAX(abs(v.churn_risk - p.churn_risk)), AVG(abs(v.churn_risk - p.churn_risk)),
               COUNT(*) FILTER (WHERE v.risk_band = p.risk_band), COUNT(*) FILTER (WHERE v.top_risk_drivers = p.top_risk_drivers)
        FROM {health.format(literal(args.vitals_out / 'customer_health' / f'as_of={as_of}' / '*.parquet'))} AS v
        JOIN {health.format(literal(args.peer_out / 'customer_health' / f'as_of={as_of}' / '*.parquet'))} AS p
          USING (customer_id)
        WHERE v.churn_risk IS NOT NULL AND p.churn_risk IS NOT NULL
    """).fetchall()[0]
    if scored:
        print(f"\nchurn_risk of the {scored:,} customers both scored: largest difference {worst:.1e}, mean {mean_diff:.1e}; "
              f"{bands:,} in the same risk band, {drivers:,} with the same top_risk_drivers text.")
    print(f"\n{'Same features and validation set.' if ok else 'DIFFERENCES found (see above).'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
