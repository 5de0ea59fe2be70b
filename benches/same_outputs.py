#!/usr/bin/env python3
"""Do two output folders hold the same Parquet tables? Order-insensitive, floats within a tolerance.

    python3 benches/same_outputs.py BEFORE AFTER [--rel 1e-9] [--abs 0] [--show 5]

For every *.parquet file under BEFORE or AFTER (matched by path relative to the folder):
the file must exist on both sides, have the same columns with the same Arrow types (pyarrow
schema, metadata ignored), the same number of rows and the same rows as a multiset: rows are
paired after sorting both sides by every column (non-float columns first, then each float
column rounded to 6 significant digits, then the exact floats), and each pair must agree on
every column: equal (NULL equals NULL, NaN equals NaN) or, for FLOAT/DOUBLE columns, within
--rel relative difference (|a - b| <= rel * max(|a|, |b|)) or --abs absolute difference.

Meant for checking that a rewrite of a job (benches/duckdb_nightly.sql, say) publishes what
the version before it did. Prints one line per file and up to --show differing row pairs;
exits 1 when anything differs.
"""

import argparse
import pathlib
import sys

import duckdb
import pyarrow.parquet as pq

FLOATS = {"FLOAT", "DOUBLE", "REAL"}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def compare(con, before: pathlib.Path, after: pathlib.Path, rel: float, abs_: float, show: int) -> list[str]:
    """The differences between two Parquet files (empty when they hold the same table)."""
    schema_a = pq.read_schema(before).remove_metadata()
    schema_b = pq.read_schema(after).remove_metadata()
    if schema_a != schema_b:
        cols_a = {f.name: str(f.type) for f in schema_a}
        cols_b = {f.name: str(f.type) for f in schema_b}
        problems = [f"column {c}: {cols_a.get(c, 'missing')} before, {cols_b.get(c, 'missing')} after"
                    for c in dict.fromkeys([*cols_a, *cols_b]) if cols_a.get(c) != cols_b.get(c)]
        if [f.name for f in schema_a] != [f.name for f in schema_b] and not problems:
            problems = ["the same columns in another order"]
        return problems or ["schemas differ (nullability or nested fields)"]

    types = con.execute(f"DESCRIBE SELECT * FROM read_parquet({literal(str(before))})").fetchall()
    columns = [(name, type_.upper() in FLOATS) for name, type_, *_ in types]
    rows_a = con.execute(f"SELECT COUNT(*) FROM read_parquet({literal(str(before))})").fetchall()[0][0]
    rows_b = con.execute(f"SELECT COUNT(*) FROM read_parquet({literal(str(after))})").fetchall()[0][0]
    if rows_a != rows_b:
        return [f"{rows_a:,} rows before, {rows_b:,} after"]
    if rows_a == 0:
        return []

    keys = [quote(c) for c, is_float in columns if not is_float]
    keys += [f"printf('%.5e', {quote(c)})" for c, is_float in columns if is_float]
    keys += [quote(c) for c, is_float in columns if is_float]
    order = ", ".join(f"{k} ASC NULLS FIRST" for k in keys)

    def differs(c: str, is_float: bool) -> str:
        a, b = f"a.{quote(c)}", f"b.{quote(c)}"
        if not is_float:
            return f"{a} IS DISTINCT FROM {b}"
        return (f"NOT ({a} IS NOT DISTINCT FROM {b}"
                f" OR (isnan({a}) AND isnan({b}))"
                f" OR abs({a} - {b}) <= {rel!r} * greatest(abs({a}), abs({b}))"
                f" OR abs({a} - {b}) <= {abs_!r})")

    conditions = [(c, differs(c, f)) for c, f in columns]
    flags = ", ".join(f"{cond} AS {quote('differs ' + c)}" for c, cond in conditions)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE pairs AS
        WITH a AS (SELECT *, row_number() OVER (ORDER BY {order}) AS __row FROM read_parquet({literal(str(before))})),
             b AS (SELECT *, row_number() OVER (ORDER BY {order}) AS __row FROM read_parquet({literal(str(after))}))
        SELECT a.__row AS __row, {flags}, a AS before, b AS after
        FROM a JOIN b USING (__row)
    """)
    any_differs = " OR ".join(quote("differs " + c) for c, _ in columns)
    bad = con.execute(f"SELECT COUNT(*) FROM pairs WHERE {any_differs}").fetchall()[0][0]
    if bad == 0:
        return []
    per_column = con.sql("SELECT " + ", ".join(f"COUNT(*) FILTER (WHERE {quote('differs ' + c)})" for c, _ in columns)
                         + " FROM pairs").fetchall()[0]
    problems = [f"{bad:,} of {rows_a:,} rows differ after sorting; by column: "
                + ", ".join(f"{c} {n:,}" for (c, _), n in zip(columns, per_column) if n)]
    for before_row, after_row in con.execute(f"SELECT before, after FROM pairs WHERE {any_differs} ORDER BY __row LIMIT {show}").fetchall():
        changed = {k: (v, after_row[k]) for k, v in before_row.items() if k != "__row" and v != after_row[k]}
        problems.append(f"  {changed}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=pathlib.Path)
    parser.add_argument("after", type=pathlib.Path)
    parser.add_argument("--rel", type=float, default=1e-9, help="relative tolerance for FLOAT/DOUBLE columns")
    parser.add_argument("--abs", type=float, default=0.0, help="absolute tolerance for FLOAT/DOUBLE columns")
    parser.add_argument("--show", type=int, default=5, help="differing row pairs to print per file")
    args = parser.parse_args()

    files = {side: {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")}
             for side, root in (("before", args.before), ("after", args.after))}
    con = duckdb.connect()
    failed = 0
    for name in sorted(files["before"] | files["after"]):
        if name not in files["after"]:
            problems = ["only in " + str(args.before)]
        elif name not in files["before"]:
            problems = ["only in " + str(args.after)]
        else:
            problems = compare(con, args.before / name, args.after / name, args.rel, args.abs, args.show)
        failed += bool(problems)
        print(f"{'DIFFERS' if problems else 'same   '} {name}")
        for line in problems:
            print(f"    {line}")
    if not files["before"] and not files["after"]:
        sys.exit("no Parquet files in either folder")
    print(f"\n{len(files['before'] | files['after']) - failed} same, {failed} different")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
