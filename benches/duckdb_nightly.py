#!/usr/bin/env python3
"""The nightly vitals run done with DuckDB: benches/duckdb_nightly.sql over the exports that
`vitals sample-data` writes, publishing the same tables under OUT/<table>/as_of=<date>/.

    python3 benches/duckdb_nightly.py --data DIR --out DIR [--as-of 2026-06-30]

Everything a nightly job needs happens in this process and the one child it waits for, so
timing the command times the whole job: Python start-up, the GBK → UTF-8 conversion of the
accounts export (iconv; DuckDB cannot read GBK without an extension), the survey workbook
written out as CSV (python-calamine, the Rust reader vitals uses too; DuckDB reads .xlsx
only with its excel extension, which this machine cannot download), and the SQL.
"""

import argparse
import csv
import datetime
import pathlib
import re
import subprocess
import tempfile

import duckdb

SQL = pathlib.Path(__file__).with_name("duckdb_nightly.sql")


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def survey_csv(workbook: pathlib.Path, target: pathlib.Path) -> None:
    """The answers of the survey workbook (sheet Responses, title in row 1, header in row 2)
    as CSV with YYYY-MM-DD dates, whether a date is a date cell, text or a bare serial."""
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(workbook)).get_sheet_by_name("Responses").to_python(skip_empty_area=False)
    excel_epoch = datetime.date(1899, 12, 30)

    def cell(value, is_date: bool) -> str:
        if isinstance(value, datetime.datetime):
            return value.date().isoformat()
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, float) and is_date:
            return (excel_epoch + datetime.timedelta(days=int(value))).isoformat()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(rows[1])
        for row in rows[2:]:
            writer.writerow([cell(v, i == 1) for i, v in enumerate(row)])


def previous_health(out: pathlib.Path, as_of: str) -> pathlib.Path | None:
    """The newest customer_health published before as_of: what trends and alerts compare with."""
    earlier = sorted(
        p for p in (out / "customer_health").glob("as_of=*/part-0.parquet") if p.parent.name[len("as_of="):] < as_of
    )
    return earlier[-1] if earlier else None


def run(data: pathlib.Path, out: pathlib.Path, as_of: str) -> None:
    """The job: the exports in `data` as of `as_of`, published under `out`."""
    data, out = data.resolve(), out.resolve()
    sql = SQL.read_text(encoding="utf-8")

    previous = previous_health(out, as_of)
    # COPY does not create folders: make each partition folder the SQL writes to.
    for table in re.findall(r"\bpart\('([^']+)'\)", sql):
        (out / table / f"as_of={as_of}").mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(dir=out) as tmp:
        accounts = pathlib.Path(tmp) / "accounts.csv"
        with accounts.open("wb") as utf8:
            gbk = data / "crm" / "accounts.csv"
            subprocess.run(["iconv", "-f", "GBK", "-t", "UTF-8", str(gbk)], stdout=utf8, check=True)
        surveys = pathlib.Path(tmp) / "nps_responses.csv"
        survey_csv(data / "survey" / "nps_responses.xlsx", surveys)

        con = duckdb.connect()
        for name, value in (
            ("data", data), ("accounts_utf8", accounts), ("surveys_csv", surveys), ("out", out), ("as_of", as_of)
        ):
            con.execute(f"SET VARIABLE {name} = {literal(str(value))}")
        con.execute(
            "CREATE TABLE previous_health (customer_id VARCHAR, as_of DATE, health_score DOUBLE, health_tier VARCHAR)"
        )
        if previous:
            con.execute(
                "INSERT INTO previous_health SELECT customer_id, as_of, health_score, health_tier FROM read_parquet(?)",
                [str(previous)],
            )
        con.execute(sql)
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=pathlib.Path, required=True, help="folder written by vitals sample-data")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="output folder")
    parser.add_argument("--as-of", default="2026-06-30", help="score as of this date (YYYY-MM-DD)")
    args = parser.parse_args()
    run(args.data, args.out, args.as_of)


if __name__ == "__main__":
    main()
