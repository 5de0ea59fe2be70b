#!/usr/bin/env python3
"""The nightly vitals run done with DuckDB: benches/duckdb_nightly.sql over the exports that
`vitals sample-data` writes, publishing the same tables under OUT/<table>/as_of=<date>/.

    python3 benches/duckdb_nightly.py --data DIR --out DIR [--as-of 2026-06-30]

Everything a nightly job needs happens in this process and the one child it waits for, so
timing the command times the whole job: Python start-up, the GBK → UTF-8 conversion of the
accounts export (iconv; DuckDB cannot read GBK without an extension), and the SQL.
"""

import argparse
import pathlib
import re
import subprocess
import tempfile

import duckdb

SQL = pathlib.Path(__file__).with_name("duckdb_nightly.sql")


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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

        con = duckdb.connect()
        for name, value in (("data", data), ("accounts_utf8", accounts), ("out", out), ("as_of", as_of)):
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
