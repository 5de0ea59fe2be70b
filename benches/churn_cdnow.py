#!/usr/bin/env python3
"""Does churn_risk rank real customers better than the buy-till-you-die models?

    python3 benches/churn_cdnow.py --vitals BIN [--work DIR] [--dates D1,D2,...]
                                   [--sql-dir DIR] [--json FILE]

Runs vitals on the CDNOW transactions (23,570 customers of a CD retailer, January 1997 to
June 1998; the file ships inside the `lifetimes` package) as an invoice-only portfolio:
one invoice per customer and day, no CRM, so churn means no purchase in the next 90 days
(vitals' fallback label, checked in the manifest). At each as-of date it compares, on the
customers vitals scored (not lost), how well four scores rank who churned in the 90 days
after the date:

  * vitals      churn_risk of customer_health (trained on the run's own point-in-time
                snapshots, like every nightly run)
  * BG/NBD      lifetimes' BetaGeoFitter on the purchase histories up to the date
  * Pareto/NBD  lifetimes' ParetoNBDFitter, the same way
  * recency     days since the last purchase

For the two models the score is the better of −E[purchases in 90 days] and 1 − P(alive).
Prints a markdown table of ROC AUC and PR AUC, and vitals' margin over the best of the
other three. Exits 1 when that margin is under 0.02 ROC AUC at any date. --sql-dir runs
vitals with other SQL models (e.g. a churn_features.sql with a feature you are trying).

Python packages: pip install -r benches/requirements.txt
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import duckdb
import lifetimes
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import summary_data_from_transaction_data
from sklearn.metrics import average_precision_score, roc_auc_score

HORIZON = 90
DATES = "1997-09-30,1997-12-31,1998-03-31"
TARGET = 0.02


def transactions() -> pd.DataFrame:
    """CDNOW master: one row per customer and day, amounts summed."""
    path = pathlib.Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt"
    raw = pd.read_csv(path, sep=r"\s+", header=0, names=["customer_id", "date", "cds", "amount"],
                      dtype={"customer_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    days = raw.groupby(["customer_id", "date"], as_index=False)["amount"].sum()
    return days.sort_values(["customer_id", "date"], ignore_index=True)


def write_exports(days: pd.DataFrame, folder: pathlib.Path, sql_dir: str | None) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    invoices = pd.DataFrame({
        "invoice_id": days["customer_id"] + "-" + days["date"].dt.strftime("%Y%m%d"),
        "customer_id": days["customer_id"],
        "invoice_date": days["date"].dt.strftime("%Y-%m-%d"),
        "amount": days["amount"].round(2),
    })
    invoices.to_csv(folder / "invoices.csv", index=False)
    pipeline = folder / "cdnow.toml"
    pipeline.write_text(
        "# CDNOW as an invoice-only portfolio (benches/churn_cdnow.py).\n"
        "[run]\npublish = [\"customer_health\"]\n"
        + (f"sql_dir = {json.dumps(str(pathlib.Path(sql_dir).resolve()))}\n" if sql_dir else "")
        + "\n"
        "[sources.invoices]\npath = \"invoices.csv\"\nformat = \"csv\"\n\n"
        f"[churn]\nenabled = true\nhorizon_days = {HORIZON}\n"
    )
    return pipeline


def vitals_scores(binary: str, pipeline: pathlib.Path, as_of: str, out: pathlib.Path) -> pd.DataFrame:
    subprocess.run([binary, "run", str(pipeline), "--as-of", as_of, "--out", str(out), "--quiet"], check=True)
    manifest = json.loads((out / "runs" / as_of / "manifest.json").read_text())
    churn = manifest["churn"]
    if churn["status"] != "trained" or churn.get("label") != ["inactivity"]:
        sys.exit(f"{as_of}: expected a model trained on inactivity, got {churn['status']} {churn.get('label')}")
    files = out / "customer_health" / f"as_of={as_of}" / "*.parquet"
    return duckdb.sql(
        f"SELECT customer_id, churn_risk FROM read_parquet('{files}') WHERE churn_risk IS NOT NULL"
    ).df()


def btyd_scores(days: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    seen = days[days["date"] <= as_of]
    summary = summary_data_from_transaction_data(seen, "customer_id", "date", observation_period_end=as_of, freq="D")
    scores = {}
    for name, fitter in [("BG/NBD", BetaGeoFitter()), ("Pareto/NBD", ParetoNBDFitter())]:
        fitter.fit(summary["frequency"], summary["recency"], summary["T"])
        expected = fitter.conditional_expected_number_of_purchases_up_to_time(
            HORIZON, summary["frequency"], summary["recency"], summary["T"])
        alive = fitter.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
        scores[name] = {
            "expected": pd.Series(-np.asarray(expected, dtype=float), index=summary.index),
            "alive": pd.Series(1 - np.asarray(alive, dtype=float).ravel(), index=summary.index),
            "params": {k: float(v) for k, v in fitter.params_.items()},
        }
    return scores


def evaluate(churned: np.ndarray, score: np.ndarray) -> tuple:
    return roc_auc_score(churned, score), average_precision_score(churned, score)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vitals", required=True, help="the vitals binary (a release build)")
    parser.add_argument("--work", help="folder for the exports and runs (default: a temporary one)")
    parser.add_argument("--dates", default=DATES, help=f"as-of dates, comma-separated (default {DATES})")
    parser.add_argument("--sql-dir", help="the SQL models to run (default: those built into the binary)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="vitals-cdnow-"))
    days = transactions()
    pipeline = write_exports(days, work / "exports", args.sql_dir)
    results = []
    for as_of in args.dates.split(","):
        date = pd.Timestamp(as_of)
        scored = vitals_scores(args.vitals, pipeline, as_of, work / "out")
        later = days[(days["date"] > date) & (days["date"] <= date + pd.Timedelta(days=HORIZON))]
        bought = set(later["customer_id"])
        customers = scored["customer_id"]
        churned = (~customers.isin(bought)).to_numpy()
        last = days[days["date"] <= date].groupby("customer_id")["date"].max()
        recency = (date - last.reindex(customers)).dt.days.to_numpy(dtype=float)
        row = {"as_of": as_of, "customers": len(customers), "churn_rate": float(churned.mean()),
               "vitals": evaluate(churned, scored["churn_risk"].to_numpy()),
               "recency": evaluate(churned, recency)}
        for name, s in btyd_scores(days, date).items():
            options = {kind: evaluate(churned, s[kind].reindex(customers).to_numpy()) for kind in ("expected", "alive")}
            kind = max(options, key=lambda k: options[k][0])
            row[name] = options[kind]
            row[f"{name} score"] = kind
            row[f"{name} params"] = s["params"]
        row["best other"] = max(row[k][0] for k in ("BG/NBD", "Pareto/NBD", "recency"))
        row["margin"] = row["vitals"][0] - row["best other"]
        results.append(row)
        print(f"{as_of}: vitals {row['vitals'][0]:.4f}, margin {row['margin']:+.4f}", file=sys.stderr)

    print(f"CDNOW, {len(days['customer_id'].unique()):,} customers, churn = no purchase in the next {HORIZON} days; "
          "ROC AUC / PR AUC on the customers vitals scored\n")
    print("| as of | customers | churned | vitals | BG/NBD | Pareto/NBD | recency | vitals − best |")
    print("|---|---:|---:|---|---|---|---|---:|")
    for r in results:
        cell = lambda k: f"{r[k][0]:.3f} / {r[k][1]:.3f}"
        print(f"| {r['as_of']} | {r['customers']:,} | {r['churn_rate']:.1%} | **{cell('vitals')}** | {cell('BG/NBD')} "
              f"| {cell('Pareto/NBD')} | {cell('recency')} | {r['margin']:+.3f} |")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    short = [r["as_of"] for r in results if r["margin"] < TARGET]
    if short:
        print(f"\nvitals leads the best of the others by less than {TARGET} ROC AUC on {', '.join(short)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
