"""Batch scoring: `python -m kiln.serve.batch --model PATH --input DIR_OR_FILE --output DIR`.

Scores every *.csv and *.parquet file under the input (sorted by path) with the same model loading and
schema checks as the replica, and writes one DIR/predictions-NNNNN.parquet (or .csv without pyarrow) per
input file, holding `row` (the row's position in its input file) and `prediction`, plus DIR/scoring.json
with the totals. Each output appears whole or not at all (written under a temporary name, then renamed).

Reading is columnar and vectorised: pyarrow when it is importable (multi-threaded CSV; parquet in row
batches), else pandas (CSV in chunks), else numpy.loadtxt for an all-numeric CSV. The model sees
CHUNK_ROWS rows at a time. Exit status: 0 done, 2 nothing to score or an input that does not fit the
model (the message says which file and why), 1 the model raised.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, List, Tuple

from kiln.serve import CHUNK_ROWS
from kiln.serve.formats import ClientError
from kiln.serve.models import LoadError, Model, ModelError, load_model

SUFFIXES = (".csv", ".parquet")
# pyarrow reads a CSV file of up to this size whole, on all cores; a larger one is streamed (one core).
WHOLE_CSV_BYTES = 1 << 30
ENGINES = ("auto", "pyarrow", "pandas", "numpy")

Chunk = Tuple[List[str], List[Any]]  # column names, and the columns as 1-D numpy arrays


class InputError(Exception):
    """An input that cannot be scored: missing, empty, unreadable, or not fitting the model."""


def dataset_folder(name: str) -> Path:
    """Where the agent mounted dataset `name` for this run, as this runtime sees it (a container sees
    /datasets/NAME, a plain process a folder of the node's): the variable the agent sets for it."""
    variable = "KILN_DATASET_" + "".join(c if c.isalnum() else "_" for c in name).upper()
    found = os.environ.get(variable) or os.path.join(os.environ.get("KILN_DATASETS", "/datasets"), name)
    return Path(found)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        files = input_files(Path(args.input) if args.input else dataset_folder(args.dataset))
        model = load_model(args.model)
    except (InputError, LoadError) as e:
        return _fail(str(e))
    engine = args.csv_engine
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    total, outputs = 0, []
    try:
        for n, file in enumerate(files):
            target = output / f"predictions-{n:05d}{'.parquet' if _has('pyarrow') else '.csv'}"
            total += score_file(model, file, target, args.chunk_rows, engine)
            outputs.append(str(target))
    except (InputError, ClientError) as e:
        return _fail(str(e))
    except ModelError as e:
        return _fail(f"the model raised: {e}", 1)
    seconds = time.perf_counter() - started
    report = {
        "rows": total,
        "seconds": round(seconds, 3),
        "rows_per_s": round(total / seconds) if seconds > 0 else None,
        "model": model.describe(),
        "inputs": [str(f) for f in files],
        "outputs": outputs,
    }
    _write_atomically(output / "scoring.json", json.dumps(report, indent=2) + "\n")
    print(f"scored {total:,} rows of {len(files)} file(s) in {seconds:.2f} s ({_rate(total, seconds)})", flush=True)
    return 0


def input_files(path: Path) -> list[Path]:
    if not path.exists():
        raise InputError(f"no input at {path}")
    if path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise InputError(f"{path} is neither a .csv nor a .parquet file")
        return [path]
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"{path} holds no *.csv or *.parquet files")
    return files


def score_file(model: Model, file: Path, target: Path, chunk_rows: int, engine: str) -> int:
    """Scores one input file into `target`; returns its row count."""
    started = time.perf_counter()
    done = 0
    temporary = target.with_name(f".{target.name}.tmp")
    sink = _Sink(temporary)
    try:
        for names, columns in read_chunks(file, chunk_rows, engine):
            predictions = model.predict_columns(names, columns, file.name)
            sink.write(done, predictions)
            done += len(columns[0]) if columns else 0
            print(f"scored {done:,} rows of {file.name} ({_rate(done, time.perf_counter() - started)})", flush=True)
        sink.close()
    except BaseException:
        sink.close()
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, target)
    return done


# -- reading -----------------------------------------------------------------------------------------------


def read_chunks(file: Path, chunk_rows: int, engine: str = "auto") -> Iterator[Chunk]:
    """The file's rows, at most `chunk_rows` at a time, as columns."""
    try:
        if file.suffix.lower() == ".parquet":
            yield from _parquet(file, chunk_rows)
        elif engine == "pyarrow" or (engine == "auto" and _has("pyarrow")):
            yield from _arrow_csv(file, chunk_rows)
        elif engine == "pandas" or (engine == "auto" and _has("pandas")):
            yield from _pandas_csv(file, chunk_rows)
        else:
            yield from _numpy_csv(file, chunk_rows)
    except (InputError, ClientError, ModelError):
        raise
    except ImportError as e:
        raise InputError(f"reading {file.name} needs {e.name or e} in this environment") from e
    except Exception as e:  # the readers' own parse errors name the line; keep their message
        raise InputError(f"cannot read {file}: {type(e).__name__}: {e}") from e


def _parquet(file: Path, chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(file).iter_batches(batch_size=chunk_rows):
        yield batch.schema.names, [_arrow_column(c) for c in batch.columns]


def _arrow_csv(file: Path, chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.csv as pc

    if file.stat().st_size <= WHOLE_CSV_BYTES:
        table = pc.read_csv(file)
        if not table.num_rows:
            raise InputError(f"{file.name} has no data rows")
        for offset in range(0, table.num_rows, chunk_rows):
            part = table.slice(offset, chunk_rows)
            yield part.column_names, [_arrow_column(c) for c in part.columns]
        return
    for batch in pc.open_csv(file, read_options=pc.ReadOptions(block_size=64 << 20)):
        for offset in range(0, batch.num_rows, chunk_rows):
            part = batch.slice(offset, chunk_rows)
            yield part.schema.names, [_arrow_column(c) for c in part.columns]


def _arrow_column(column: Any) -> Any:
    if hasattr(column, "combine_chunks"):  # a table's column: one contiguous array (a copy, but a cheap one)
        column = column.combine_chunks()
    return column.to_numpy(zero_copy_only=False)


def _pandas_csv(file: Path, chunk_rows: int) -> Iterator[Chunk]:
    import pandas as pd

    empty = True
    for frame in pd.read_csv(file, chunksize=chunk_rows):
        empty = False
        yield [str(c) for c in frame.columns], [frame[c].to_numpy() for c in frame.columns]
    if empty:
        raise InputError(f"{file.name} has no data rows")


def _numpy_csv(file: Path, chunk_rows: int) -> Iterator[Chunk]:
    import numpy as np

    with file.open(newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise InputError(f"{file.name} is empty")
    try:
        data = np.loadtxt(file, delimiter=",", skiprows=1, ndmin=2, encoding="utf-8-sig")
    except ValueError as e:
        raise InputError(f"{file.name} is not all-numeric ({e}); install pandas to score it") from e
    if not len(data):
        raise InputError(f"{file.name} has no data rows")
    names = [h.strip() for h in header]
    for offset in range(0, len(data), chunk_rows):
        part = data[offset : offset + chunk_rows]
        yield names, [part[:, j] for j in range(part.shape[1])]


# -- writing -----------------------------------------------------------------------------------------------


class _Sink:
    """Appends (row, prediction) chunks to one parquet file (pyarrow) or CSV file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: Any = None
        self._file: Any = None

    def write(self, first_row: int, predictions: Any) -> None:
        import numpy as np

        values = np.asarray(predictions)
        rows = np.arange(first_row, first_row + len(values), dtype=np.int64)
        columns = {"row": rows}
        if values.ndim == 1:
            columns["prediction"] = values
        else:  # several outputs a row (probabilities, multi-target regressions)
            flat = values.reshape(len(values), -1)
            columns.update({f"prediction_{j}": flat[:, j] for j in range(flat.shape[1])})
        if _has("pyarrow"):
            self._write_parquet(columns)
        else:
            self._write_csv(columns)

    def _write_parquet(self, columns: dict[str, Any]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(columns)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table)

    def _write_csv(self, columns: dict[str, Any]) -> None:
        if self._file is None:
            self._file = self.path.open("w", newline="", encoding="utf-8")
            csv.writer(self._file).writerow(list(columns))
        csv.writer(self._file).writerows(zip(*(c.tolist() for c in columns.values())))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._file is not None:
            self._file.close()
            self._file = None


# -- helpers -----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kiln.serve.batch", description="Score files with a model.")
    parser.add_argument("--model", required=True, help="a model file, or a folder holding one")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="a .csv or .parquet file, or a folder of them")
    source.add_argument(
        "--dataset", help="the run's mounted dataset of this name (its folder: $KILN_DATASET_<NAME>, in any runtime)"
    )
    parser.add_argument("--output", required=True, help="the folder for predictions-*.parquet and scoring.json")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows handed to the model at a time")
    parser.add_argument("--csv-engine", choices=ENGINES, default="auto", help="what parses CSV input")
    return parser


def _has(name: str) -> bool:
    import importlib.util

    return name in sys.modules or importlib.util.find_spec(name) is not None


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds / 1e6:.1f} M rows/s" if seconds > 0 else "-"


def _fail(message: str, status: int = 2) -> int:
    sys.stderr.write(f"kiln.serve.batch: {message}\n")
    return status


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())
