#!/usr/bin/env python3
"""vitals' churn model done the way a Python data team does it: DuckDB builds the snapshots
(benches/duckdb_churn.sql), scikit-learn fits the logistic regression and scores.

    python3 benches/duckdb_churn.py [--data DIR] --out DIR [--as-of 2026-06-30]

Run after benches/duckdb_nightly.py into the same --out, or with --data to run that job
first in this process (the whole nightly job with churn model, one Python start-up and one
DuckDB import, as a data team's one script would). It reads the bronze tables the nightly
job published in --out and adds what vitals' churn model adds to a run, under
OUT/…/as_of=<date>/:
the churn columns of customer_health (churn_risk, risk_band, top_risk_drivers; the file is
rewritten with them), model_metrics (the out-of-time validation of the model and of the
R + F baseline, vitals' layout), models/churn/model.json; and, for benches/check_churn.py,
churn_training (every training row: as_of, customer_id, the features, churned, rf_score)
and churn_features (the run date's features of the customers scored).

As vitals (src/model/mod.rs, logistic.rs, evaluation.rs): features standardized with the
training rows' means and (population) standard deviations, clipped to ±4, a missing value
read as the mean; the classes balanced, churners repeated a whole number of times up to the
stayers' count and, past max_training_rows, each class sampled to half of it (fixed seed);
L2 = 1 on the coefficients, not the intercept (linfa's alpha = l2 on a sum of log losses is
scikit-learn's C = 1 / l2); the intercept corrected by −ln(churner rate / stayer rate); the
validation fit (every snapshot but the newest, tested on the newest) and the final fit run
side by side, one per core. Differences: repeated churners are a sample_weight, not copied
rows (the same objective, fewer rows to multiply); the fit is scikit-learn's lbfgs with
tol = 1e-4 on the mean gradient and max_iter = 500 (linfa: its L-BFGS with a gradient
tolerance of 1e-4 per row, 500 iterations); the sample of a class past the row budget is
drawn by NumPy, not ChaCha8, so it is another sample of the same size. The BG/NBD features
(p_alive, expected_purchases in the horizon) come from the `lifetimes` package's
BetaGeoFitter, fitted per date on every k-th history up to 5,000 as vitals does
(src/model/btyd.rs), one date per core.
"""

import argparse
import datetime
import json
import math
import pathlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from lifetimes import BetaGeoFitter
from lifetimes.utils import ConvergenceError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

SQL = pathlib.Path(__file__).with_name("duckdb_churn.sql")
CLIP = 4.0
SAMPLE_SEED = 0x00C0FFEE
NOT_FEATURES = {"customer_id", "as_of", "churned", "rf_score"}


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Model:
    """A fitted churn model: standardize (clip, missing = mean), then a logistic regression."""

    def __init__(self, features, scaler, coefficients, intercept, churner_rate, stayer_rate):
        self.features, self.scaler = features, scaler
        self.coefficients, self.intercept = coefficients, intercept
        self.churner_rate, self.stayer_rate = churner_rate, stayer_rate

    def standardize(self, x: np.ndarray) -> np.ndarray:
        return np.nan_to_num(np.clip(self.scaler.transform(x), -CLIP, CLIP), nan=0.0)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.standardize(x) @ self.coefficients + self.intercept)))

    def drivers(self, x: np.ndarray) -> list[str]:
        """Up to three features pushing risk up most: `name (high|low) +0.84`, as vitals."""
        z = self.standardize(x)
        push = z * self.coefficients
        names = np.array(self.features)
        out = []
        for row_z, row_push in zip(z, push):
            up = np.flatnonzero(row_push > 0.005)
            top = sorted(up, key=lambda j: (-row_push[j], names[j]))[:3]
            out.append(", ".join(f"{names[j]} ({'high' if row_z[j] > 0 else 'low'}) +{row_push[j]:.2f}" for j in top))
        return out

    def to_json(self) -> dict:
        return {
            "features": list(self.features),
            "means": self.scaler.mean_.tolist(),
            "stds": self.scaler.scale_.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept,
            "churner_rate": self.churner_rate,
            "stayer_rate": self.stayer_rate,
        }


def balanced(rows: np.ndarray, target: int, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """`target` rows' worth of a class: a sample when it has more (weight 1), else all of
    them weighted by a whole number of repeats; with the rate each row is used at."""
    if len(rows) > target:
        picked = np.sort(rng.choice(len(rows), size=target, replace=False))
        return rows[picked], 1.0, target / len(rows)
    repeats = max(round(target / len(rows)), 1)
    return rows, float(repeats), float(repeats)


def fit(features: list[str], x: np.ndarray, y: np.ndarray, l2: float, max_rows: int) -> Model:
    churners, stayers = np.flatnonzero(y), np.flatnonzero(~y)
    rng = np.random.default_rng(SAMPLE_SEED)
    per_class = min(max(len(stayers), len(churners)), max(max_rows // 2, 1))
    stayer_rows, stayer_weight, stayer_rate = balanced(stayers, per_class, rng)
    churner_rows, churner_weight, churner_rate = balanced(churners, per_class, rng)
    scaler = StandardScaler().fit(x)  # every training row; NaN ignored
    scaler.scale_ = np.where(scaler.var_ > 1e-24, scaler.scale_, 1.0)
    model = Model(features, scaler, None, 0.0, churner_rate, stayer_rate)
    rows = np.concatenate([stayer_rows, churner_rows])
    weights = np.concatenate([np.full(len(stayer_rows), stayer_weight), np.full(len(churner_rows), churner_weight)])
    regression = LogisticRegression(C=1.0 / l2 if l2 > 0 else np.inf, tol=1e-4, max_iter=500)
    regression.fit(model.standardize(x[rows]), y[rows], sample_weight=weights)
    model.coefficients = regression.coef_[0].copy()
    # Churners at rate c and stayers at rate s multiply the odds of churn by c / s: undo it.
    model.intercept = float(regression.intercept_[0]) - math.log(churner_rate / stayer_rate)
    return model


def thinned_roc(p: np.ndarray, y: np.ndarray, step: float = 0.01) -> list[tuple[float, float]]:
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    curve = [(0.0, 0.0)]
    for i, (f, t) in enumerate(zip(fpr[1:], tpr[1:]), start=1):
        last = curve[-1]
        if i == len(fpr) - 1 or f - last[0] >= step or t - last[1] >= step:
            curve.append((float(f), float(t)))
    return curve


def evaluate(p: np.ndarray, y: np.ndarray) -> dict:
    order = np.argsort(p, kind="stable")
    n = len(p)
    bins = []
    for b in range(10):
        members = order[b * n // 10:(b + 1) * n // 10]
        if len(members):
            bins.append((b + 1, len(members), float(p[members].mean()), float(y[members].mean())))
    q = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "customers": n,
        "churned": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(np.where(y, np.log(q), np.log(1 - q)))),
        "calibration": bins,
        "roc": thinned_roc(p, y),
    }


def metrics_table(as_of, validation: dict | None) -> pa.Table:
    rows = []
    for scorer, e in (validation or {}).items():
        if scorer == "test_snapshot":
            continue
        for metric in ("roc_auc", "pr_auc", "brier", "log_loss"):
            rows.append({"scorer": scorer, "metric": metric, "value": e[metric], "customers": e["customers"]})
        for b, customers, mean_predicted, observed in e["calibration"]:
            rows.append({"scorer": scorer, "metric": "calibration", "bin": b, "customers": customers,
                         "mean_predicted": mean_predicted, "observed_rate": observed})
        for i, (f, t) in enumerate(e["roc"]):
            rows.append({"scorer": scorer, "metric": "roc_point", "bin": i, "fpr": f, "tpr": t})
    schema = pa.schema([("as_of", pa.date32()), ("scorer", pa.string()), ("metric", pa.string()),
                        ("value", pa.float64()), ("bin", pa.int32()), ("customers", pa.int64()),
                        ("mean_predicted", pa.float64()), ("observed_rate", pa.float64()),
                        ("fpr", pa.float64()), ("tpr", pa.float64())])
    columns = {f.name: [r.get(f.name) for r in rows] for f in schema if f.name != "as_of"}
    columns["as_of"] = [as_of] * len(rows)
    return pa.table({f.name: pa.array(columns[f.name], f.type) for f in schema})


HISTORY = ("repeat_purchases", "purchase_span_days", "recency_days")
BTYD = ("p_alive", "expected_purchases")
BTYD_FIT_ROWS = 5_000


def btyd(x: np.ndarray, names: list[str], dates: np.ndarray, horizon: float) -> np.ndarray:
    """x with the BG/NBD columns appended, each date's rows from a fit on that date alone."""
    extra = np.full((len(x), 2), np.nan)
    columns = [names.index(h) for h in HISTORY]

    def one(day):
        rows = np.flatnonzero((dates == day) & np.isfinite(x[:, columns]).all(axis=1))
        h = pd.DataFrame(np.maximum(x[rows][:, columns], 0.0), columns=["x", "t_x", "recency"])
        h["T"] = h["t_x"] + h["recency"]
        sample = h.iloc[::max(-(-len(h) // BTYD_FIT_ROWS), 1)]
        if not (sample["x"] > 0).any():
            return
        # Where the likelihood peaks at a bound (no one drops out), scipy reports failure;
        # vitals' bounded simplex stops at the bound. A penalty is lifetimes' own advice: the
        # smallest of these that converges.
        for penalizer in (0.0, 0.001, 0.01, 0.1):
            try:
                fitter = BetaGeoFitter(penalizer_coef=penalizer).fit(sample["x"], sample["t_x"], sample["T"])
                break
            except ConvergenceError:
                if penalizer == 0.1:
                    raise
        extra[rows, 0] = np.asarray(fitter.conditional_probability_alive(h["x"], h["t_x"], h["T"])).ravel()
        extra[rows, 1] = np.asarray(fitter.conditional_expected_number_of_purchases_up_to_time(
            horizon, h["x"], h["t_x"], h["T"]))

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, np.unique(dates)))
    # A fit at a bound can overflow for the longest histories: missing, like any feature.
    extra[~np.isfinite(extra)] = np.nan
    return np.column_stack([x, extra])


def matrix(table: pa.Table, names: list[str]) -> np.ndarray:
    """The feature columns as float64, NULL as NaN."""
    return np.column_stack([table[c].to_numpy(zero_copy_only=False).astype(np.float64) for c in names]) \
        if names else np.empty((table.num_rows, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=pathlib.Path,
                        help="run duckdb_nightly.py's job on these exports (folder written by vitals sample-data) first")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="output folder of duckdb_nightly.py")
    parser.add_argument("--as-of", default="2026-06-30", help="the run date (YYYY-MM-DD)")
    args = parser.parse_args()
    out = args.out.resolve()
    if args.data:
        import duckdb_nightly  # beside this file

        duckdb_nightly.run(args.data, out, args.as_of)
    started = time.perf_counter()

    con = duckdb.connect()
    con.execute(f"SET VARIABLE bronze = {literal(str(out / 'bronze'))}")
    con.execute(f"SET VARIABLE as_of = {literal(args.as_of)}")
    con.execute(SQL.read_text(encoding="utf-8"))
    l2, max_rows, min_positives, medium, high = con.execute(
        "SELECT l2, max_training_rows, min_positives, band_medium, band_high FROM churn_settings").fetchall()[0]
    l2 = float(l2)
    dates = [d for (d,) in con.execute("SELECT as_of FROM run_dates WHERE training ORDER BY as_of DESC").fetchall()]
    training = con.sql("FROM churn_training").to_arrow_table()
    scoring = con.sql("FROM churn_scoring").to_arrow_table()
    seconds_sql = time.perf_counter() - started

    columns = [c for c in training.column_names if c not in NOT_FEATURES]
    names = columns + list(BTYD)
    horizon = float(con.execute("SELECT churn_horizon_days FROM params").fetchall()[0][0])
    x = btyd(matrix(training, columns), columns, training["as_of"].to_numpy(zero_copy_only=False), horizon)
    y = training["churned"].to_numpy(zero_copy_only=False).astype(bool)
    rf = training["rf_score"].fill_null(0).to_numpy()
    is_test = (training["as_of"].to_numpy(zero_copy_only=False) == np.datetime64(dates[0])) \
        if training.num_rows else np.zeros(0, bool)
    churners = int(y.sum())
    report = {"status": "trained", "snapshots": [str(d) for d in dates], "training_customers": int(len(y)),
              "training_churners": churners}

    fitting = time.perf_counter()
    model, validation = None, None
    if churners < min_positives or churners == len(y):
        report["status"] = "skipped"
        report["reason"] = f"{churners} churners among {len(y)} customer snapshots (min_positives = {min_positives})"
    else:
        train_y, test_y = y[~is_test], y[is_test]
        validate = train_y.any() and (~train_y).any() and test_y.any() and (~test_y).any()
        # The validation fit and the final fit are independent: one per core, each on one
        # BLAS thread.
        with threadpool_limits(limits=1), ThreadPoolExecutor(max_workers=2) as pool:
            final = pool.submit(fit, names, x, y, l2, max_rows)
            held_out = pool.submit(fit, names, x[~is_test], train_y, l2, max_rows) if validate else None
            model = final.result()
            validation_model = held_out.result() if held_out else None
        if validation_model is not None:
            predicted = validation_model.predict(x[is_test])
            # Baseline: the training churn rate of customers with the same R + F score.
            train_rf, overall = rf[~is_test], train_y.mean()
            rates = {s: train_y[train_rf == s].mean() for s in np.unique(train_rf)}
            baseline = np.array([rates.get(s, overall) for s in rf[is_test]])
            validation = {"test_snapshot": str(dates[0]), "model": evaluate(predicted, test_y),
                          "baseline": evaluate(baseline, test_y)}
    report["seconds_fitting"] = time.perf_counter() - fitting

    # Score the run date's customers; customer_health gets the churn columns.
    scores = pa.table({"customer_id": scoring["customer_id"]})
    if model is not None:
        x_now = btyd(matrix(scoring, columns), columns, np.zeros(scoring.num_rows), horizon)
        risk = model.predict(x_now)
        bands = np.where(risk >= high, "high", np.where(risk >= medium, "medium", "low"))
        scores = scores.append_column("churn_risk", pa.array(risk, pa.float64()))
        scores = scores.append_column("risk_band", pa.array(bands.tolist(), pa.string()))
        scores = scores.append_column("top_risk_drivers", pa.array(model.drivers(x_now), pa.string()))
    else:
        for name, kind in (("churn_risk", pa.float64()), ("risk_band", pa.string()), ("top_risk_drivers", pa.string())):
            scores = scores.append_column(name, pa.nulls(scores.num_rows, kind))
    con.register("churn_scores", scores)

    def part(table: str) -> pathlib.Path:
        folder = out / table / f"as_of={args.as_of}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / "part-0.parquet"

    health = part("customer_health")
    con.execute(f"""
        COPY (
            SELECT h.* REPLACE (s.churn_risk AS churn_risk, s.risk_band AS risk_band, s.top_risk_drivers AS top_risk_drivers)
            FROM read_parquet({literal(str(health))}) AS h
            LEFT JOIN churn_scores AS s USING (customer_id)
            ORDER BY h.customer_id
        ) TO {literal(str(health) + '.tmp')} (FORMAT parquet, COMPRESSION zstd)
    """)
    pathlib.Path(str(health) + ".tmp").replace(health)
    con.execute(f"COPY churn_training TO {literal(str(part('churn_training')))} (FORMAT parquet, COMPRESSION zstd)")
    con.execute(f"COPY churn_scoring TO {literal(str(part('churn_features')))} (FORMAT parquet, COMPRESSION zstd)")
    pq.write_table(metrics_table(datetime.date.fromisoformat(args.as_of), validation), part("model_metrics"), compression="zstd")
    model_file = out / "models" / "churn" / f"as_of={args.as_of}" / "model.json"
    model_file.parent.mkdir(parents=True, exist_ok=True)
    report["validation"] = validation
    report["seconds_sql"] = seconds_sql
    report["seconds"] = time.perf_counter() - started
    model_file.write_text(json.dumps({"trained_as_of": args.as_of, "l2": l2, **report,
                                      **(model.to_json() if model else {})}, indent=1, default=str))
    if validation:
        print(f"churn model trained: out-of-time ROC AUC {validation['model']['roc_auc']:.3f} "
              f"(RFM baseline {validation['baseline']['roc_auc']:.3f}) on {validation['test_snapshot']}",
              file=sys.stderr)
    else:
        print(f"churn model {report['status']}: {report.get('reason', 'no validation')}", file=sys.stderr)


if __name__ == "__main__":
    main()
