"""Loading a model folder or file into one interface the server and the batch scorer share.

    model = load_model("models/churn")        # a file, or a folder holding one model
    model.predict(table)                      # a request's Table -> JSON-able predictions
    model.predict_columns(names, arrays, "a.csv")   # a batch of numpy columns -> predictions
    model.describe()                          # flavor, input schema

What can be served: a scikit-learn estimator (joblib, pickle or skops file); a plain Python model (a
folder with model.py or kiln_model.py defining load(path) and predict(model, inputs)); an MLflow model
folder (through mlflow.pyfunc where mlflow is installed, or its sklearn pickle directly where not).
Every library is imported here, when a model needs it, from the model's own environment.
"""

from __future__ import annotations

import importlib.util
import inspect
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

from kiln.serve.formats import ClientError, Table
from kiln.serve.mlmodel import read_mlmodel
from kiln.serve.schema import (
    Column,
    Schema,
    SchemaError,
    frame,
    from_schema_file,
    from_signature,
    numeric_array,
    plain_numbers,
)

ESTIMATOR_SUFFIXES = (".joblib", ".pkl", ".pickle", ".skops")
PYTHON_FILES = ("model.py", "kiln_model.py")
SCHEMA_FILE = "kiln-schema.json"


class LoadError(Exception):
    """The model cannot be served; the message says why and, where it can, what to change."""


class ModelError(Exception):
    """The model itself raised while predicting (the request was well-formed)."""


class Model:
    """A loaded model: checks inputs against `schema`, hands them to the model, returns plain values."""

    flavor = "model"

    def __init__(self, path: Path, schema: Schema) -> None:
        self.path = path
        self.schema = schema

    def predict(self, table: Table) -> Any:
        """JSON-able predictions for a request: a list (or, for models that answer so, a dict)."""
        rows, names = self.schema.arrange(table)
        self.schema.check_types(rows)
        try:
            inputs = self._inputs(rows, names)
        except ClientError:
            raise
        except Exception as e:  # a cell pandas or numpy cannot take: still the request's fault
            raise ClientError(f"could not build the model's input: {type(e).__name__}: {e}") from None
        return jsonable(self._call(inputs, table.params))

    def predict_columns(self, names: list[str], columns: list[Any], where: str) -> Any:
        """Predictions for equally long numpy columns read from a batch file named `where`."""
        order = self.schema.select(names, where)
        names = [names[i] for i in order]
        columns = [columns[i] for i in order]
        self.schema.check_dtypes(names, [c.dtype.kind for c in columns], where, self._numeric)
        return self._call(self._column_inputs(names, columns), None)

    def describe(self) -> dict[str, Any]:
        return {"flavor": self.flavor, "path": str(self.path), **self.schema.describe()}

    # -- what each kind of model does differently ----------------------------------------------------------

    _numeric = False  # whether every input must be a number (a model fitted on a plain array)

    def _inputs(self, rows: list[list[Any]], names: list[str] | None) -> Any:
        raise NotImplementedError

    def _column_inputs(self, names: list[str], columns: list[Any]) -> Any:
        import pandas as pd

        return pd.DataFrame(dict(zip(names, columns)), copy=False)

    def _call(self, inputs: Any, params: dict[str, Any] | None) -> Any:
        raise NotImplementedError

    def _guarded(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as e:
            raise ModelError(f"{type(e).__name__}: {e}") from e


class EstimatorModel(Model):
    """A scikit-learn estimator (or anything with .predict(X)). The fast path is a float array: numpy's
    list conversion and the estimator's own checks, no pandas. A model fitted on a DataFrame gets one
    when it may use its columns by name (a ColumnTransformer, a third-party wrapper, strings); a plain
    scikit-learn estimator or pipeline of them only counts columns, so once the request's columns are in
    its fitted order it gets the array too, five times faster than building a one-row DataFrame."""

    flavor = "sklearn"

    def __init__(self, path: Path, schema: Schema, estimator: Any, flavor: str) -> None:
        super().__init__(path, schema)
        self.estimator = estimator
        self.flavor = flavor
        self._by_name = hasattr(estimator, "feature_names_in_") and schema.names is not None
        self._numeric = not self._by_name and schema.numeric is not False
        self._array_ok = (not self._by_name or positional(estimator)) and schema.numeric is not False
        if self._by_name and self._array_ok:
            # the columns were matched by name here, so the estimator's warning about them says nothing
            warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)

    def _inputs(self, rows: list[list[Any]], names: list[str] | None) -> Any:
        if self._by_name and names is not None:
            array = plain_numbers(rows) if self._array_ok else None
            return array if array is not None else frame(rows, names)
        if self._numeric:
            return numeric_array(rows, names)
        import numpy as np

        return np.asarray(rows, dtype=object)

    def _column_inputs(self, names: list[str], columns: list[Any]) -> Any:
        numbers = all(c.dtype.kind in "biuf" for c in columns)
        if self._by_name and not (self._array_ok and numbers):
            return super()._column_inputs(names, columns)
        import numpy as np

        # one contiguous row per column, then viewed transposed: numpy writes each column in one sweep,
        # several times faster than column_stack's strided writes (sklearn takes the Fortran order)
        stacked = np.stack(columns).T
        return stacked if numbers else stacked.astype(object)

    def _call(self, inputs: Any, params: dict[str, Any] | None) -> Any:
        return self._guarded(lambda: self.estimator.predict(inputs))


# scikit-learn's estimators that use their input columns by position only; what is not here (compose's
# ColumnTransformer, FunctionTransformer, stacking and voting of arbitrary estimators, other libraries'
# wrappers) may select columns by name, and gets a DataFrame.
_POSITIONAL_PACKAGES = (
    "sklearn.linear_model.",
    "sklearn.tree.",
    "sklearn.svm.",
    "sklearn.neighbors.",
    "sklearn.naive_bayes.",
    "sklearn.discriminant_analysis.",
    "sklearn.neural_network.",
    "sklearn.kernel_ridge.",
    "sklearn.decomposition.",
    "sklearn.impute.",
    "sklearn.preprocessing._data",
    "sklearn.ensemble._forest",
    "sklearn.ensemble._gb",
    "sklearn.ensemble._hist_gradient_boosting.",
    "sklearn.ensemble._weight_boosting",
    "sklearn.ensemble._iforest",
)


def positional(estimator: Any) -> bool:
    """Whether the estimator reads its input by column position only (see _POSITIONAL_PACKAGES)."""
    if type(estimator).__name__ == "Pipeline" and type(estimator).__module__.startswith("sklearn."):
        steps = [step for _, step in estimator.steps if step is not None and step != "passthrough"]
        return all(positional(step) for step in steps)
    categorical = getattr(estimator, "is_categorical_", None)
    if categorical is not None and bool(categorical.any()):
        return False  # histogram boosting with categorical columns reads them by dtype
    return type(estimator).__module__.startswith(_POSITIONAL_PACKAGES)


class PythonModel(Model):
    """A folder with model.py: load(path) once, then predict(model, inputs[, params]) per request, with a
    DataFrame when pandas is importable and the input has column names, else a numpy array (or the rows
    as lists when numpy is not installed either)."""

    flavor = "python"

    def __init__(self, path: Path, schema: Schema, model: Any, predict: Callable[..., Any]) -> None:
        super().__init__(path, schema)
        self.model = model
        self._predict = predict
        parameters = inspect.signature(predict).parameters
        self._takes_params = "params" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())

    def _inputs(self, rows: list[list[Any]], names: list[str] | None) -> Any:
        if names is not None and _importable("pandas"):
            return frame(rows, names)
        if _importable("numpy"):
            import numpy as np

            return np.asarray(rows)
        return rows

    def _column_inputs(self, names: list[str], columns: list[Any]) -> Any:
        if _importable("pandas"):
            return super()._column_inputs(names, columns)
        import numpy as np

        return np.column_stack(columns)

    def _call(self, inputs: Any, params: dict[str, Any] | None) -> Any:
        if self._takes_params:
            return self._guarded(lambda: self._predict(self.model, inputs, params=params))
        return self._guarded(lambda: self._predict(self.model, inputs))


class PyfuncModel(Model):
    """An MLflow model loaded by mlflow.pyfunc, which enforces its own signature as well."""

    flavor = "mlflow"

    def __init__(self, path: Path, schema: Schema, pyfunc: Any) -> None:
        super().__init__(path, schema)
        self.pyfunc = pyfunc

    def _inputs(self, rows: list[list[Any]], names: list[str] | None) -> Any:
        if names is not None:
            return frame(rows, names)
        import numpy as np

        return np.asarray(rows)

    def _call(self, inputs: Any, params: dict[str, Any] | None) -> Any:
        if params:
            return self._guarded(lambda: self.pyfunc.predict(inputs, params=params))
        return self._guarded(lambda: self.pyfunc.predict(inputs))


def jsonable(output: Any) -> Any:
    """A model's output as plain values: arrays and Series as lists, a DataFrame as records."""
    if hasattr(output, "columns") and hasattr(output, "to_dict"):
        return output.to_dict(orient="records")
    if hasattr(output, "tolist"):
        value = output.tolist()
        return value if isinstance(value, list) else [value]
    if isinstance(output, dict):
        return {str(k): v.tolist() if hasattr(v, "tolist") else v for k, v in output.items()}
    if isinstance(output, (list, tuple)):
        return list(output)
    return [output]


def _importable(name: str) -> bool:
    return name in sys.modules or importlib.util.find_spec(name) is not None


# -- loading -----------------------------------------------------------------------------------------------


def load_model(path: str | Path) -> Model:
    """The model at `path`: an estimator file, or a folder holding an MLmodel, a model.py, or exactly one
    estimator file (with an optional kiln-schema.json beside it)."""
    path = Path(path).absolute()
    if not path.exists():
        raise LoadError(f"no model at {path}")
    if path.is_file():
        return _estimator_model(path, _load_estimator(path), None, "sklearn")
    if (path / "MLmodel").is_file():
        return _load_mlflow(path)
    for name in PYTHON_FILES:
        if (path / name).is_file():
            return _load_python(path, path / name)
    files = sorted(p for p in path.iterdir() if p.suffix in ESTIMATOR_SUFFIXES and p.is_file())
    if len(files) != 1:
        found = "nothing"
        if files:
            found = f"{len(files)} model files ({', '.join(p.name for p in files)}); keep exactly one"
        raise LoadError(
            f"{path} holds {found}: a model folder has an MLmodel file, a model.py (or kiln_model.py), "
            f"or one *.joblib, *.pkl, *.pickle or *.skops file"
        )
    return _estimator_model(files[0], _load_estimator(files[0]), _schema_file(path), "sklearn")


def _load_estimator(file: Path, how: str | None = None) -> Any:
    """An estimator from a joblib, pickle or skops file (`how` overrides the suffix)."""
    how = how or file.suffix.lstrip(".")
    try:
        if how == "skops":
            import skops.io

            return skops.io.load(file, trusted=skops.io.get_untrusted_types(file=file))
        if how in ("joblib", "pkl", "pickle"):
            try:
                import joblib
            except ImportError:
                if how == "joblib":
                    raise
            else:
                return joblib.load(file)
        with file.open("rb") as f:
            return pickle.load(f)
    except ImportError as e:
        raise LoadError(f"loading {file.name} needs {e.name or e} in the model's environment: {e}") from e
    except Exception as e:
        raise LoadError(f"could not load {file}: {type(e).__name__}: {e}") from e


def _estimator_model(file: Path, estimator: Any, explicit: Schema | None, flavor: str) -> EstimatorModel:
    if not callable(getattr(estimator, "predict", None)):
        raise LoadError(f"{file} holds a {type(estimator).__name__}, which has no predict method")
    names = getattr(estimator, "feature_names_in_", None)
    count = getattr(estimator, "n_features_in_", None)
    learned = [str(n) for n in names] if names is not None else None
    schema = explicit
    if schema is None:
        columns = [Column(n) for n in learned] if learned else None
        schema = Schema(columns, count if isinstance(count, int) else None, "the fitted model")
    elif isinstance(count, int) and schema.n_features is not None and schema.n_features != count:
        raise LoadError(f"{schema.source} describes {schema.n_features} features; the model was fitted on {count}")
    elif learned and schema.names is not None and sorted(schema.names) != sorted(learned):
        raise LoadError(f"{schema.source} names columns {schema.names}; the model was fitted on {learned}")
    elif learned and schema.names is None:
        kinds = [c.type for c in schema.columns] if schema.columns else [None] * len(learned)
        schema = Schema([Column(n, t) for n, t in zip(learned, kinds)], None, schema.source)
    return EstimatorModel(file, schema, estimator, flavor)


def _schema_file(folder: Path) -> Schema | None:
    file = folder / SCHEMA_FILE
    if not file.is_file():
        return None
    try:
        return from_schema_file(file.read_text(encoding="utf-8"), SCHEMA_FILE)
    except ValueError as e:
        raise LoadError(f"{file}: {e}") from e


def _load_python(folder: Path, file: Path) -> PythonModel:
    """Imports model.py as a module (its folder on sys.path, so it can import its neighbours)."""
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("kiln_served_model", file)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise LoadError(f"importing {file} failed: {type(e).__name__}: {e}") from e
    load, predict = getattr(module, "load", None), getattr(module, "predict", None)
    if not callable(load) or not callable(predict):
        raise LoadError(f"{file} must define load(path) and predict(model, inputs)")
    try:
        model = load(str(folder))
    except Exception as e:
        raise LoadError(f"{file.name}: load({str(folder)!r}) failed: {type(e).__name__}: {e}") from e
    return PythonModel(folder, _schema_file(folder) or Schema(), model, predict)


def _load_mlflow(folder: Path) -> Model:
    """mlflow.pyfunc where mlflow is installed; otherwise the sklearn flavor's pickle, read directly."""
    try:
        meta = read_mlmodel(folder / "MLmodel")
    except (OSError, ValueError) as e:
        raise LoadError(f"cannot read {folder / 'MLmodel'}: {e}") from e
    schema = _signature(meta) or _schema_file(folder)
    try:
        import mlflow.pyfunc
    except ImportError:
        pass
    else:
        try:
            return PyfuncModel(folder, schema or Schema(), mlflow.pyfunc.load_model(str(folder)))
        except Exception as e:
            raise LoadError(f"mlflow could not load {folder}: {type(e).__name__}: {e}") from e
    flavors = meta.get("flavors") or {}
    sklearn = flavors.get("sklearn") or {}
    pickled, how = sklearn.get("pickled_model"), sklearn.get("serialization_format", "cloudpickle")
    if not pickled or how not in ("cloudpickle", "pickle", "skops"):
        raise LoadError(
            f"{folder} is an MLflow model of flavor {', '.join(flavors) or 'none'}; serving it needs mlflow "
            "in the model's environment (pip install mlflow), or a scikit-learn model saved as pickle"
        )
    file = folder / pickled
    estimator = _load_estimator(file, "skops" if how == "skops" else "pickle")
    return _estimator_model(file, estimator, schema, "mlflow-sklearn")


def _signature(meta: dict[str, Any]) -> Schema | None:
    inputs = (meta.get("signature") or {}).get("inputs")
    if not inputs:
        return None
    try:
        return from_signature(inputs, "the MLmodel signature")
    except ValueError as e:
        raise LoadError(f"the MLmodel signature's inputs are not valid JSON: {e}") from e


__all__ = ["LoadError", "Model", "ModelError", "SchemaError", "load_model"]
