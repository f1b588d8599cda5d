"""Batch scoring (`python -m kiln.serve.batch`) of real CSV and parquet files: the predictions match the
model's, one output file per input, and what cannot be scored exits 2 naming the file and the reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kiln.serve import batch
from tests.conftest import need
from tests.serve.conftest import NAMES, Trained, joblib_file

ROWS = 10_000


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(rng.normal(size=(ROWS, len(NAMES))), columns=NAMES)


def has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def read_predictions(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def outputs(folder: Path) -> list[Path]:
    return sorted(folder.glob("predictions-*"))


def test_a_csv_file_scores_as_the_model(tmp_path: Path, trained: Trained, data: pd.DataFrame) -> None:
    data.to_csv(tmp_path / "input.csv", index=False)
    model = joblib_file(tmp_path, trained.array_model)
    command = [sys.executable, "-m", "kiln.serve.batch", "--model", str(model)]
    command += ["--input", str(tmp_path / "input.csv"), "--output", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"scored {ROWS:,} rows of input.csv (" in done.stdout
    [output] = outputs(tmp_path / "out")
    got = read_predictions(output)
    assert list(got.columns) == ["row", "prediction"]
    assert got["row"].tolist() == list(range(ROWS))
    assert (got["prediction"].to_numpy() == trained.array_model.predict(data.to_numpy())).all()
    report = json.loads((tmp_path / "out" / "scoring.json").read_text())
    assert report["rows"] == ROWS and report["inputs"] == [str(tmp_path / "input.csv")]
    assert report["outputs"] == [str(output)] and report["model"]["flavor"] == "sklearn"
    assert report["seconds"] >= 0 and (report["rows_per_s"] is None or report["rows_per_s"] > 0)


def test_a_folder_of_csv_and_parquet_in_chunks(tmp_path: Path, trained: Trained, data: pd.DataFrame) -> None:
    need(has_pyarrow(), "pyarrow, to read parquet (pip install -e '.[dev]')")
    inputs = tmp_path / "in"
    (inputs / "later").mkdir(parents=True)
    reversed_columns = data[list(reversed(NAMES))]  # a model fitted on a frame takes columns by name
    reversed_columns.iloc[:6000].to_parquet(inputs / "a.parquet")
    data.iloc[6000:].assign(extra="ignored").to_csv(inputs / "later" / "b.csv", index=False)
    model = joblib_file(tmp_path, trained.frame_model)
    code = batch.main(
        ["--model", str(model), "--input", str(inputs), "--output", str(tmp_path / "out"), "--chunk-rows", "2500"]
    )
    assert code == 0
    first, second = outputs(tmp_path / "out")
    assert first.name == "predictions-00000.parquet" and second.name == "predictions-00001.parquet"
    expected = trained.frame_model.predict(data)
    a, b = read_predictions(first), read_predictions(second)
    assert a["row"].tolist() == list(range(6000)) and b["row"].tolist() == list(range(4000))
    assert (np.concatenate([a["prediction"], b["prediction"]]) == expected).all()
    report = json.loads((tmp_path / "out" / "scoring.json").read_text())
    assert report["rows"] == ROWS and [Path(p).name for p in report["inputs"]] == ["a.parquet", "b.csv"]


@pytest.mark.parametrize("engine", ["pandas", "numpy", "pyarrow"])
def test_every_csv_engine_reads_the_same(
    tmp_path: Path, trained: Trained, data: pd.DataFrame, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if engine == "pyarrow":
        need(has_pyarrow(), "pyarrow (pip install -e '.[dev]')")
    data.iloc[:3000].to_csv(tmp_path / "input.csv", index=False)
    model = joblib_file(tmp_path, trained.array_model)
    argv = ["--model", str(model), "--input", str(tmp_path / "input.csv"), "--output", str(tmp_path / "out")]
    assert batch.main([*argv, "--csv-engine", engine, "--chunk-rows", "1000"]) == 0
    assert capsys.readouterr().out.count(" rows of input.csv (") == 3  # one progress line a chunk
    [output] = outputs(tmp_path / "out")
    expected = trained.array_model.predict(data.iloc[:3000].to_numpy())
    assert (read_predictions(output)["prediction"].to_numpy() == expected).all()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = batch.main(argv)
    return code, capsys.readouterr().err


def test_what_cannot_be_scored_exits_2(
    tmp_path: Path, trained: Trained, data: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(joblib_file(tmp_path, trained.array_model))
    named = str(joblib_file(tmp_path, trained.frame_model, "named.joblib"))
    out = str(tmp_path / "out")
    code, err = run(["--model", model, "--input", str(tmp_path / "absent"), "--output", out], capsys)
    assert code == 2 and f"kiln.serve.batch: no input at {tmp_path / 'absent'}" in err
    (tmp_path / "empty").mkdir()
    code, err = run(["--model", model, "--input", str(tmp_path / "empty"), "--output", out], capsys)
    assert code == 2 and "holds no *.csv or *.parquet files" in err
    data.iloc[:10, :9].to_csv(tmp_path / "nine.csv", index=False)
    code, err = run(["--model", model, "--input", str(tmp_path / "nine.csv"), "--output", out], capsys)
    assert code == 2 and "nine.csv: expected 10 features; it has 9 columns (x0..x8)" in err
    code, err = run(["--model", named, "--input", str(tmp_path / "nine.csv"), "--output", out], capsys)
    assert code == 2 and "nine.csv: missing column 'x9'" in err
    data.iloc[:10].assign(x4="text").to_csv(tmp_path / "text.csv", index=False)
    code, err = run(["--model", model, "--input", str(tmp_path / "text.csv"), "--output", out], capsys)
    assert code == 2 and "text.csv: column 'x4' is not numeric" in err
    assert not list(Path(out).glob("predictions-*")), "a refused input leaves no partial output"
    absent = str(tmp_path / "no-model")
    code, err = run(["--model", absent, "--input", str(tmp_path / "text.csv"), "--output", out], capsys)
    assert code == 2 and "no model at" in err


def test_a_missing_input_exits_2_from_the_command_line(tmp_path: Path, trained: Trained) -> None:
    model = joblib_file(tmp_path, trained.array_model)
    command = [sys.executable, "-m", "kiln.serve.batch", "--model", str(model), "--input", "absent", "--output", "o"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "kiln.serve.batch: no input at absent\n"


def test_read_chunks_gives_columns(tmp_path: Path, data: pd.DataFrame) -> None:
    data.iloc[:5].to_csv(tmp_path / "x.csv", index=False)
    [(names, columns)] = list(batch.read_chunks(tmp_path / "x.csv", 100, "pandas"))
    assert names == NAMES and all(isinstance(c, np.ndarray) and len(c) == 5 for c in columns)
