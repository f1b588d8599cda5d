"""MLflow-format model folders saved by the real mlflow package, served through mlflow.pyfunc (mlflow is
installed in this environment, as it is in a model environment that trained with it): an sklearn model
with the signature mlflow inferred, and a custom pyfunc that only mlflow can load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature

from kiln.serve.formats import Table
from kiln.serve.models import PyfuncModel, SchemaError, load_model
from tests.serve.conftest import NAMES, Trained
from tests.serve.test_server import formats

DOUBLER = """\
import mlflow.pyfunc
from mlflow.models import set_model


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):  # a frame for named columns, an array for inputs
        rows = model_input.itertuples(index=False) if hasattr(model_input, "itertuples") else model_input
        return [2 * float(sum(row)) for row in rows]


set_model(Doubler())
"""


def _sklearn_folder(tmp_path: Path, trained: Trained) -> Path:
    folder = tmp_path / "mlflow-sklearn"
    X = pd.DataFrame(trained.X[:20], columns=NAMES)
    signature = infer_signature(X, trained.frame_model.predict(X))
    mlflow.sklearn.save_model(trained.frame_model, str(folder), signature=signature)
    return folder


def test_an_mlflow_sklearn_folder_is_loaded_by_pyfunc_with_its_signature(tmp_path: Path, trained: Trained) -> None:
    model = load_model(_sklearn_folder(tmp_path, trained))
    assert isinstance(model, PyfuncModel) and model.flavor == "mlflow"
    assert model.schema.names == NAMES and model.describe()["source"] == "the MLmodel signature"
    X = trained.X[:7]
    rows = [list(map(float, r)) for r in X]
    got = model.predict(Table(rows, NAMES))
    assert list(got) == trained.frame_model.predict(pd.DataFrame(X, columns=NAMES)).tolist()
    try:
        model.predict(Table([r[:9] for r in rows], NAMES[:9]))
    except SchemaError as e:
        assert NAMES[9] in str(e)
    else:
        raise AssertionError("a request missing a signature column was scored")


def test_a_custom_pyfunc_is_served_by_a_replica_in_every_format(replica: Any, tmp_path: Path, trained: Trained) -> None:
    """A model no other loader knows (twice the sum of each row), saved as MLflow's models-from-code."""
    (tmp_path / "doubler.py").write_text(DOUBLER)
    folder = tmp_path / "doubler"
    mlflow.pyfunc.save_model(str(folder), python_model=str(tmp_path / "doubler.py"))
    X = trained.X[:6]
    expected = [2 * float(sum(map(float, r))) for r in X]
    r = replica(folder)
    assert r.request("GET", "/version")[1]["flavor"] == "mlflow"
    for name in ("inputs", "dataframe_split", "dataframe_records"):
        status, answer = r.post(formats(X)[name])
        assert status == 200, (name, answer)
        assert [round(v, 6) for v in answer["predictions"]] == [round(v, 6) for v in expected], name
