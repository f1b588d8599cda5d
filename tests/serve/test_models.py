"""Loading every kind of model folder into the one interface, and the input schema that every request
is checked against before the model sees it."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from kiln.serve.formats import Table
from kiln.serve.mlmodel import parse_simple_yaml
from kiln.serve.models import LoadError, ModelError, SchemaError, load_model
from tests.serve.conftest import NAMES, Trained, joblib_file, mlflow_folder, python_model

SIGNATURE = [{"type": "double", "name": n, "required": True} for n in NAMES]


def frame(X: Any) -> pd.DataFrame:
    return pd.DataFrame(X, columns=NAMES)


def rows(X: Any) -> list[list[float]]:
    return [list(map(float, r)) for r in X]


def no_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a model environment without mlflow (None in sys.modules makes the import fail)."""
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlflow", None)


# -- scikit-learn files -------------------------------------------------------------------------------------


def test_a_joblib_file_predicts_as_the_estimator(tmp_path: Path, trained: Trained) -> None:
    model = load_model(joblib_file(tmp_path, trained.array_model))
    assert model.predict(Table(rows(trained.X))) == trained.array_model.predict(trained.X).tolist()
    assert model.describe()["flavor"] == "sklearn" and model.describe()["n_features"] == 10


@pytest.mark.parametrize("suffix", [".pkl", ".pickle"])
def test_a_pickle_file_in_a_folder(tmp_path: Path, trained: Trained, suffix: str) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    with (folder / f"model{suffix}").open("wb") as f:
        pickle.dump(trained.array_model, f)
    model = load_model(folder)
    assert model.predict(Table(rows(trained.X[:5]))) == trained.array_model.predict(trained.X[:5]).tolist()


def test_a_skops_file(tmp_path: Path, trained: Trained) -> None:
    path = tmp_path / "model.skops"
    skops.io.dump(trained.frame_model, path)
    model = load_model(path)
    assert model.schema.names == NAMES
    assert model.predict(Table(rows(trained.X), NAMES)) == trained.frame_model.predict(frame(trained.X)).tolist()


def test_the_count_of_features_is_checked_before_predicting(tmp_path: Path, trained: Trained) -> None:
    model = load_model(joblib_file(tmp_path, trained.array_model))
    with pytest.raises(SchemaError, match=r"^expected 10 features; got 9$"):
        model.predict(Table([[1.0] * 9]))
    with pytest.raises(SchemaError, match=r"expected numbers; row 1, column 3 has 'x'"):
        model.predict(Table([[1.0] * 10, [1.0, 2.0, 3.0, "x", 5.0, 6.0, 7.0, 8.0, 9.0, 0.0]]))


def test_nulls_become_nan_for_the_model(tmp_path: Path, trained: Trained) -> None:
    model = load_model(joblib_file(tmp_path, trained.array_model))
    with pytest.raises(ModelError, match="NaN"):  # LogisticRegression refuses NaN itself: a model error
        model.predict(Table([[None] + [1.0] * 9]))


def test_a_model_fitted_on_a_frame_takes_its_columns_by_name(tmp_path: Path, trained: Trained) -> None:
    model = load_model(joblib_file(tmp_path, trained.frame_model))
    expected = trained.frame_model.predict(frame(trained.X[:20])).tolist()
    shuffled = list(reversed(NAMES)) + ["unused"]
    table = Table([[*reversed(r), "whatever"] for r in rows(trained.X[:20])], shuffled)
    assert model.predict(table) == expected
    assert model.predict(Table(rows(trained.X[:20]))) == expected  # positional rows in the model's order
    with pytest.raises(SchemaError, match=r"missing column 'x3': expected 10 features \(x0..x9\); got x0..x9"):
        model.predict(Table([[1.0] * 10], [n if n != "x3" else "x9 " for n in NAMES]))
    with pytest.raises(SchemaError, match=r"^expected 10 features \(x0..x9\); got 9$"):
        model.predict(Table([[1.0] * 9]))


def test_a_pipeline_that_selects_columns_by_name_gets_a_frame(tmp_path: Path) -> None:
    data = pd.DataFrame({"colour": ["red", "blue", "green", "red"] * 25, "size": np.arange(100.0)})
    columns = ColumnTransformer([("c", OneHotEncoder(), ["colour"]), ("n", "passthrough", ["size"])])
    pipeline = make_pipeline(columns, LogisticRegression()).fit(data, data["colour"] == "red")
    model = load_model(joblib_file(tmp_path, pipeline))
    expected = pipeline.predict(pd.DataFrame({"colour": ["red", "blue"], "size": [3.0, 4.0]})).tolist()
    assert model.predict(Table([[3.0, "red"], [4.0, "blue"]], ["size", "colour"])) == expected
    assert model.predict(Table([["red", 3.0], ["blue", 4.0]])) == expected  # positional, in the fitted order
    arrays = [data[c].to_numpy() for c in data.columns]
    assert (model.predict_columns(list(data.columns), arrays, "f.csv") == pipeline.predict(data)).all()


def test_kiln_schema_json_declares_names_and_types(tmp_path: Path, trained: Trained) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    joblib_file(folder, trained.array_model)
    columns = [{"name": n, "type": "double"} for n in NAMES]
    (folder / "kiln-schema.json").write_text(json.dumps({"columns": columns}))
    model = load_model(folder)
    assert model.describe()["source"] == "kiln-schema.json"
    expected = trained.array_model.predict(trained.X[:3]).tolist()
    assert model.predict(Table([list(reversed(r)) for r in rows(trained.X[:3])], list(reversed(NAMES)))) == expected
    with pytest.raises(SchemaError, match="missing column 'x9'"):
        model.predict(Table([[1.0] * 9], NAMES[:9]))
    with pytest.raises(SchemaError, match="column 'x2' expects double values; row 0 has '3'"):
        model.predict(Table([[1.0, 2.0, "3", 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 0.0]], NAMES))


def test_a_schema_that_contradicts_the_fit_does_not_load(tmp_path: Path, trained: Trained) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    joblib_file(folder, trained.array_model)
    (folder / "kiln-schema.json").write_text(json.dumps({"n_features": 4}))
    with pytest.raises(LoadError, match="kiln-schema.json describes 4 features; the model was fitted on 10"):
        load_model(folder)
    (folder / "kiln-schema.json").write_text("[1]")
    with pytest.raises(LoadError, match="kiln-schema.json"):
        load_model(folder)


# -- plain Python models -------------------------------------------------------------------------------------

ECHO_MODEL = """
    import os

    def load(path):
        return {"path": path, "bias": float(open(os.path.join(path, "bias.txt")).read())}

    def predict(model, inputs, params=None):
        kind = type(inputs).__name__
        scale = (params or {}).get("scale", 1)
        values = inputs.to_numpy() if kind == "DataFrame" else inputs
        return [{"kind": kind, "sum": float(sum(row)) * scale + model["bias"]} for row in values]
"""


def test_a_python_model_folder(tmp_path: Path) -> None:
    folder = python_model(tmp_path / "echo", ECHO_MODEL)
    (folder / "bias.txt").write_text("0.5")
    model = load_model(folder)
    assert model.flavor == "python"
    assert model.predict(Table([[1, 2], [3, 4]], ["a", "b"])) == [
        {"kind": "DataFrame", "sum": 3.5},
        {"kind": "DataFrame", "sum": 7.5},
    ]
    assert model.predict(Table([[1, 2]], None, {"scale": 10})) == [{"kind": "ndarray", "sum": 30.5}]


def test_kiln_model_py_is_the_other_name(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "kiln_model.py").write_text("def load(path):\n    return 2\ndef predict(m, x):\n    return x * m\n")
    assert load_model(folder).predict(Table([[1, 2]])) == [[2, 4]]


def test_a_python_model_that_raises_is_a_model_error(tmp_path: Path) -> None:
    folder = python_model(tmp_path / "m", "def load(path):\n    return None\ndef predict(m, x):\n    1 / 0\n")
    with pytest.raises(ModelError, match="ZeroDivisionError: division by zero"):
        load_model(folder).predict(Table([[1]]))


# -- MLflow folders, without mlflow ------------------------------------------------------------------------


def test_an_mlflow_sklearn_folder_loads_without_mlflow_or_yaml(
    tmp_path: Path, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = mlflow_folder(tmp_path / "mlflow-model", trained.array_model, SIGNATURE)
    no_mlflow(monkeypatch)
    monkeypatch.setitem(sys.modules, "yaml", None)
    model = load_model(folder)
    assert model.flavor == "mlflow-sklearn"
    assert model.schema.names == NAMES and model.describe()["source"] == "the MLmodel signature"
    assert model.predict(Table(rows(trained.X), NAMES)) == trained.array_model.predict(trained.X).tolist()
    with pytest.raises(SchemaError, match="missing column 'x0'"):
        model.predict(Table([[1.0] * 10], [f"f{i}" for i in range(10)]))


def test_an_mlflow_folder_of_another_flavor_needs_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.pytorch\n  pytorch: {}\n")
    no_mlflow(monkeypatch)
    with pytest.raises(LoadError, match=r"flavor python_function, pytorch; serving it needs mlflow"):
        load_model(folder)


def test_the_mlmodel_reader_matches_pyyaml_on_what_mlflow_writes(tmp_path: Path, trained: Trained) -> None:
    long_names = [{"type": "double", "name": f"sepal length {i} (cm)", "required": True} for i in range(30)]
    text = (mlflow_folder(tmp_path / "m", trained.array_model, long_names) / "MLmodel").read_text()
    assert "\n    " in text.split("inputs:")[1]  # the signature is folded over several lines
    assert parse_simple_yaml(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    "text",
    [
        'a: "one \\"two\\"\n  three\\\n  four"\nb: 1\n',
        "a:\n- x\n- 'y z'\nb:\n  c: 2.5\n  d: ~\n# comment\ne: 'it''s\n\n  two lines'\n",
        "a: plain text\n  continued here\nb: {}\nc: true\n",
        "key: |\n  line 1\n  line 2\nother: x\n",
    ],
)
def test_the_mlmodel_reader_folds_scalars_as_yaml_does(text: str) -> None:
    assert parse_simple_yaml(text) == yaml.safe_load(text)


# -- what does not load -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "holds nothing: a model folder has an MLmodel file"),
        ({"a.joblib": b"", "b.pkl": b""}, r"2 model files \(a.joblib, b.pkl\); keep exactly one"),
        ({"model.joblib": b"not a joblib file"}, "could not load .*model.joblib"),
        ({"model.py": b"def load(path):\n    return 1\n"}, "must define load\\(path\\) and predict"),
        ({"model.py": b"import no_such_module_here\n"}, "importing .*model.py failed: ModuleNotFoundError"),
        ({"model.py": b"def load(p):\n    raise OSError('x')\ndef predict(m, x):\n    pass\n"}, "load\\(.*\\) failed"),
        ({"MLmodel": b"flavors: ["}, "MLmodel"),
    ],
)
def test_what_does_not_load_says_why(tmp_path: Path, files: dict[str, bytes], message: str) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    with pytest.raises(LoadError, match=message):
        load_model(folder)


def test_a_missing_path_and_an_object_without_predict(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no model at"):
        load_model(tmp_path / "nothing")
    path = tmp_path / "thing.pkl"
    path.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(LoadError, match="holds a dict, which has no predict method"):
        load_model(path)


def test_batch_columns_are_checked_by_name_and_type(tmp_path: Path, trained: Trained) -> None:
    model = load_model(joblib_file(tmp_path, trained.frame_model))
    columns = [trained.X[:, j] for j in range(10)]
    expected = trained.frame_model.predict(frame(trained.X))
    assert (model.predict_columns(list(reversed(NAMES)), list(reversed(columns)), "f.csv") == expected).all()
    with pytest.raises(SchemaError, match="f.csv: missing column 'x9'"):
        model.predict_columns(NAMES[:9], columns[:9], "f.csv")
    array_model = load_model(joblib_file(tmp_path, trained.array_model, "a.joblib"))
    with pytest.raises(SchemaError, match=r"f.csv: expected 10 features; it has 9 columns"):
        array_model.predict_columns(NAMES[:9], columns[:9], "f.csv")
    text = [np.array(["a"] * 200, dtype=object), *columns[1:]]
    with pytest.raises(SchemaError, match="f.csv: column 'x0' is not numeric"):
        array_model.predict_columns(NAMES, text, "f.csv")
