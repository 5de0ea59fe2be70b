#!/usr/bin/env python3
"""Check a vitals output directory the way BI tools read it.

    python3 tests/bi/check_tables.py OUT [--doc docs/tables.md]

Reads every table documented in docs/tables.md, every as_of partition of it, three ways:

  * each Parquet file on its own (pyarrow.parquet): its columns and types, and that it
    leaves out `as_of`, which its folder's name gives (Spark refuses a file holding its
    partition column);
  * DuckDB: read_parquet('<OUT>/<table>/*/*.parquet', hive_partitioning = true);
  * pyarrow.dataset with the Hive partitioning schema as_of: date32 (the recipe in
    docs/tables.md), and with plain partitioning="hive" (as_of then reads as a string);

and checks column names and types against the documentation, and the rows per as_of
against each run's manifest (runs/<as_of>/manifest.json, tables.<name>.rows). Exits 1
listing every difference (table, column, expected, actual); prints a summary otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"

try:
    import duckdb
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq
except ImportError as missing:  # pragma: no cover - depends on the machine
    print(
        f"check_tables.py needs duckdb and pyarrow ({missing}).\n"
        f"Install them with: pip install -r {REQUIREMENTS}",
        file=sys.stderr,
    )
    sys.exit(1)

DOC = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
HEADER = "| column | type | unit | meaning | produced by |"
PARTITION = "as_of"
#: Folders under the output directory that are not tables.
NOT_TABLES = {"runs", "models", "bronze", "facts", "drafts", "reports"}

#: Documented type → (what pyarrow reports, what DuckDB reports).
TYPES: dict[str, tuple[pa.DataType, str]] = {
    "string": (pa.string(), "VARCHAR"),
    "date32": (pa.date32(), "DATE"),
    "int32": (pa.int32(), "INTEGER"),
    "int64": (pa.int64(), "BIGINT"),
    "float64": (pa.float64(), "DOUBLE"),
    "bool": (pa.bool_(), "BOOLEAN"),
}

AS_OF_PARTITIONING = ds.partitioning(pa.schema([(PARTITION, pa.date32())]), flavor="hive")


@dataclass
class Problems:
    items: list[str] = field(default_factory=list)

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")


# ---- the documentation ----------------------------------------------------------------


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def plain(text: str) -> str:
    return text.replace("`", "").strip()


def parse_doc(path: Path) -> dict[str, dict[str, str]]:
    """Table name → {column: documented type}, in documented order.

    A table is a `## <name>` heading followed by a markdown table whose header row is
    exactly HEADER."""
    tables: dict[str, dict[str, str]] = {}
    heading = None
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^##\s+(.+?)\s*$", line)
        if m:
            heading = plain(m.group(1))
        if line.strip() == HEADER:
            if heading is None or not re.fullmatch(r"[a-z][a-z0-9_]*", heading):
                raise SystemExit(
                    f"{path}:{i + 1}: a column table must follow a '## <table_name>' heading, found {heading!r}"
                )
            if heading in tables:
                raise SystemExit(f"{path}:{i + 1}: table {heading} is documented twice")
            columns: dict[str, str] = {}
            i += 2  # header and |---| separator
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                row = cells(lines[i])
                if len(row) != 5:
                    raise SystemExit(
                        f"{path}:{i + 1}: expected 5 cells in a row of {heading}, found {len(row)}: {lines[i]}"
                    )
                name, kind = plain(row[0]), plain(row[1])
                if kind not in TYPES:
                    raise SystemExit(
                        f"{path}:{i + 1}: {heading}.{name} has type {kind!r}; known types: {', '.join(TYPES)}"
                    )
                if name in columns:
                    raise SystemExit(f"{path}:{i + 1}: {heading}.{name} is documented twice")
                columns[name] = kind
                i += 1
            tables[heading] = columns
            continue
        i += 1
    if not tables:
        raise SystemExit(f"{path}: no table with the header {HEADER}")
    return tables


# ---- the output directory ---------------------------------------------------------------


def read_manifests(out: Path, problems: Problems) -> dict[str, dict[str, int]]:
    """as_of → {table: rows} from every run's manifest."""
    runs: dict[str, dict[str, int]] = {}
    for manifest in sorted(out.glob("runs/*/manifest.json")):
        where = str(manifest.relative_to(out))
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            as_of = str(data["as_of"])
            runs[as_of] = {name: int(t["rows"]) for name, t in data["tables"].items()}
        except (ValueError, KeyError, TypeError) as e:
            problems.add(where, f"cannot read tables.<name>.rows: {e!r}")
            continue
        if manifest.parent.name != as_of:
            problems.add(where, f"manifest as_of {as_of} differs from its folder {manifest.parent.name}")
    return runs


def partitions(out: Path, table: str) -> dict[str, list[Path]]:
    """as_of → the Parquet files of that partition."""
    found: dict[str, list[Path]] = {}
    for folder in sorted((out / table).glob(f"{PARTITION}=*")):
        if folder.is_dir():
            found[folder.name.split("=", 1)[1]] = sorted(folder.glob("*.parquet"))
    return found


def compare_columns(
    where: str, doc: dict[str, str], actual: dict[str, str], reader: int, problems: Problems
) -> None:
    """doc: column → documented type; actual: column → the type this reader reports;
    reader: 0 for pyarrow, 1 for DuckDB (the index into TYPES)."""
    for name, kind in doc.items():
        expected = str(TYPES[kind][reader])
        if name not in actual:
            problems.add(where, f"column {name}: documented ({kind}) but missing")
        elif actual[name] != expected:
            documented = "" if expected == kind else f" (documented {kind})"
            problems.add(where, f"column {name}: expected type {expected}{documented}, actual {actual[name]}")
    for name, kind in actual.items():
        if name not in doc:
            problems.add(where, f"column {name} ({kind}) is not documented in docs/tables.md")


def check_files(out: Path, table: str, doc: dict[str, str], parts: dict[str, list[Path]], problems: Problems) -> None:
    """Each file on its own: schema as documented but for the partition column, which only
    the folder holds. The same finding in several files is reported once, naming the files."""
    in_file = {name: kind for name, kind in doc.items() if name != PARTITION}
    found: dict[str, list[str]] = {}
    for as_of, files in parts.items():
        if not files:
            problems.add(f"{table}/{PARTITION}={as_of}", "the partition folder holds no Parquet file")
        for file in files:
            own = Problems()
            try:
                schema = pq.read_schema(file)
            except Exception as e:  # noqa: BLE001 - any read failure is a finding
                own.add("", f"pyarrow cannot read it: {e}")
            else:
                actual = {f.name: str(f.type) for f in schema}
                if actual.pop(PARTITION, None) is not None:
                    own.add("", "holds the partition column as_of, which only its folder may hold")
                compare_columns("", in_file, actual, 0, own)
            for item in own.items:
                found.setdefault(item.removeprefix(": "), []).append(file.relative_to(out).as_posix())
    for what, files in found.items():
        named = ", ".join(files) if len(files) <= 3 else f"{files[0]}, …, {files[-1]} ({len(files)} files)"
        problems.add(f"{table} file{'s' if len(files) > 1 else ''} {named}", what)


def check_duckdb(
    out: Path, table: str, doc: dict[str, str], manifest_rows: dict[str, int], problems: Problems
) -> dict[str, int]:
    """The table as DuckDB reads it with hive_partitioning; returns rows per as_of."""
    where = f"{table} (DuckDB, hive_partitioning = true)"
    folder = (out / table).as_posix().replace("'", "''")
    source = f"read_parquet('{folder}/*/*.parquet', hive_partitioning = true)"
    con = duckdb.connect()
    try:
        described = con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()
        compare_columns(where, doc, {r[0]: r[1] for r in described}, 1, problems)
        counts = con.sql(f"SELECT CAST(as_of AS VARCHAR), COUNT(*) FROM {source} GROUP BY ALL").fetchall()
    except Exception as e:  # noqa: BLE001 - any read failure is a finding
        problems.add(where, f"cannot read the table: {e}")
        return {}
    finally:
        con.close()
    rows = {str(a): int(n) for a, n in counts}
    compare_rows(where, manifest_rows, rows, problems)
    return rows


def check_pyarrow(
    out: Path, table: str, doc: dict[str, str], manifest_rows: dict[str, int], problems: Problems
) -> dict[str, int]:
    """The table as pyarrow.dataset reads it with the documented partitioning; returns rows per as_of."""
    where = f"{table} (pyarrow.dataset, partitioning as_of: date32)"
    try:
        dataset = ds.dataset(out / table, format="parquet", partitioning=AS_OF_PARTITIONING)
        data = dataset.to_table()
    except Exception as e:  # noqa: BLE001 - any read failure is a finding
        problems.add(where, f"cannot read the table: {type(e).__name__}: {e}")
        return {}
    compare_columns(where, doc, {f.name: str(f.type) for f in data.schema}, 0, problems)
    if PARTITION not in data.schema.names:
        return {}
    grouped = data.group_by(PARTITION).aggregate([([], "count_all")]).to_pylist()
    rows = {str(r[PARTITION]): int(r["count_all"]) for r in grouped}
    compare_rows(where, manifest_rows, rows, problems)
    hive = f"{table} (pyarrow.dataset, partitioning='hive')"
    try:
        plain = ds.dataset(out / table, format="parquet", partitioning="hive").to_table()
    except Exception as e:  # noqa: BLE001 - any read failure is a finding
        problems.add(hive, f"cannot read the table: {type(e).__name__}: {e}")
        return rows
    if PARTITION not in plain.schema.names:
        problems.add(hive, "has no as_of column")
    else:
        grouped = plain.group_by(PARTITION).aggregate([([], "count_all")]).to_pylist()
        compare_rows(hive, manifest_rows, {str(r[PARTITION]): int(r["count_all"]) for r in grouped}, problems)
    return rows


def compare_rows(where: str, manifest_rows: dict[str, int], rows: dict[str, int], problems: Problems) -> None:
    """A reader's rows per as_of against the manifests (a partition of 0 rows shows no group)."""
    for as_of in sorted(set(manifest_rows) | set(rows)):
        expected, actual = manifest_rows.get(as_of), rows.get(as_of, 0)
        if expected is None:
            problems.add(where, f"as_of {as_of}: {actual} rows, but no manifest of that run lists the table")
        elif expected != actual:
            problems.add(
                where, f"as_of {as_of}: expected {expected} rows (runs/{as_of}/manifest.json), actual {actual}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="a vitals output directory")
    parser.add_argument("--doc", type=Path, default=DOC, help=f"the table documentation (default {DOC})")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    if not out.is_dir():
        print(f"check_tables.py: {args.out} is not a directory", file=sys.stderr)
        return 1

    problems = Problems()
    doc = parse_doc(args.doc)
    runs = read_manifests(out, problems)
    if not runs:
        problems.add(str(out), "no runs/<as_of>/manifest.json: has a run published here?")

    # Every table on disk or in a manifest is documented, and every documented one exists.
    on_disk = {p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in NOT_TABLES}
    in_manifests = {t for tables in runs.values() for t in tables}
    for table in sorted((on_disk | in_manifests) - set(doc)):
        problems.add(table, "published but not documented in docs/tables.md")
    for table in sorted(set(doc) - on_disk):
        problems.add(table, f"documented but {out / table} does not exist")

    summary = []
    for table, columns in doc.items():
        parts = partitions(out, table)
        if not parts:
            continue
        manifest_rows = {as_of: tables[table] for as_of, tables in runs.items() if table in tables}
        for as_of in sorted(set(runs) - set(manifest_rows)):
            problems.add(table, f"runs/{as_of}/manifest.json has no tables.{table}.rows")
        for as_of in sorted(set(manifest_rows) - set(parts)):
            problems.add(table, f"runs/{as_of}/manifest.json lists it, but {table}/{PARTITION}={as_of}/ is missing")
        check_files(out, table, columns, parts, problems)
        duck = check_duckdb(out, table, columns, manifest_rows, problems)
        arrow = check_pyarrow(out, table, columns, manifest_rows, problems)
        counts = ", ".join(f"{a}: {duck.get(a, arrow.get(a, 0))}" for a in sorted(parts))
        summary.append(f"  {table:<17} {len(columns):>2} columns  {len(parts)} partitions  rows {counts}")

    versions = f"duckdb {duckdb.__version__}, pyarrow {pa.__version__}"
    if problems.items:
        print(f"FAILED: {len(problems.items)} problem(s) in {out} against {args.doc} ({versions}):", file=sys.stderr)
        for item in problems.items:
            print(f"  - {item}", file=sys.stderr)
        return 1
    print(f"OK: {len(doc)} tables in {out} match {args.doc} and {len(runs)} run manifests ({versions})")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
