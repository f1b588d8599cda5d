"""The replica as a real subprocess (`python -m kiln.serve`), spoken to over real keep-alive HTTP: the
scoring formats, the errors a gateway can get back, and a graceful stop with a request in flight."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import skops.io

from kiln.agent.tracking import prepare_sdk
from kiln.serve import MAX_BODY_BYTES
from tests.conftest import wait_until
from tests.serve.conftest import NAMES, Replica, Trained, blocked_imports, joblib_file, mlflow_folder, python_model

SIGNATURE = [{"type": "double", "name": n, "required": True} for n in NAMES]


def formats(X: Any) -> dict[str, Any]:
    rows = [list(map(float, r)) for r in X]
    return {
        "inputs": {"inputs": rows},
        "instances": {"instances": rows},
        "dataframe_split": {"dataframe_split": {"columns": NAMES, "data": rows, "index": list(range(len(rows)))}},
        "dataframe_records": {"dataframe_records": [dict(zip(NAMES, r, strict=True)) for r in rows]},
        "inputs as columns": {"inputs": {n: [r[j] for r in rows] for j, n in enumerate(NAMES)}},
        "instances as records": {"instances": [dict(zip(NAMES, r, strict=True)) for r in rows]},
    }


def csv_body(X: Any) -> bytes:
    return pd.DataFrame(X, columns=NAMES).to_csv(index=False).encode()


def raw_exchange(r: Replica, data: bytes) -> bytes:
    """Sends raw bytes on a fresh connection; returns everything the replica answers before it closes."""
    with socket.create_connection((r.host, r.port), timeout=30) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_every_format_scores_as_the_model_over_one_connection(replica: Any, tmp_path: Path, trained: Trained) -> None:
    r = replica(joblib_file(tmp_path, trained.frame_model))
    X = trained.X[:25]
    expected = trained.frame_model.predict(pd.DataFrame(X, columns=NAMES)).tolist()
    status, answer = r.post(formats(X)["inputs"])
    assert (status, answer) == (200, {"predictions": expected})
    sock = r.conn.sock
    for name, doc in formats(X).items():
        assert r.post(doc) == (200, {"predictions": expected}), name
    assert r.post(csv_body(X), "text/csv") == (200, {"predictions": expected})
    assert r.conn.sock is sock  # keep-alive: every request went over the first connection


def test_ping_version_and_the_startup_line(replica: Any, tmp_path: Path, trained: Trained) -> None:
    r = replica(joblib_file(tmp_path, trained.array_model), "--name", "churn", "--version", "3")
    assert r.request("GET", "/ping") == (200, {"status": "ok"})
    status, info = r.request("GET", "/version")
    assert status == 200
    assert (info["name"], info["version"], info["flavor"]) == ("churn", "3", "sklearn")
    assert info["schema"]["n_features"] == 10
    assert r.request("GET", "/nope")[0] == 404
    assert f"kiln.serve: serving churn version 3 at http://127.0.0.1:{r.port}\n" in r.stdout()


def test_client_errors_are_400_and_the_connection_keeps_serving(replica: Any, tmp_path: Path, trained: Trained) -> None:
    r = replica(joblib_file(tmp_path, trained.array_model))
    good = formats(trained.X[:1])["inputs"]
    expected = {"predictions": trained.array_model.predict(trained.X[:1]).tolist()}
    cases: list[tuple[bytes | dict[str, Any], str, int, str]] = [
        ({"inputs": [[1.0] * 9]}, "application/json", 400, "expected 10 features; got 9"),
        (b"{broken", "application/json", 400, "malformed JSON"),
        ({"inputs": [[1.0] * 10], "foo": 1}, "application/json", 400, "unknown key 'foo'"),
        ({"inputs": [[1.0] * 10, [1.0]]}, "application/json", 400, "ragged rows"),
        ({"inputs": [["a"] * 10]}, "application/json", 400, "expected numbers; row 0, column 0 has 'a'"),
        (b"x0,x1\n1,2\n", "text/csv", 400, "expected 10 features; got 2 (x0, x1)"),
        (good, "text/plain", 415, "unsupported Content-Type 'text/plain'"),
    ]
    for body, content_type, status, message in cases:
        got_status, answer = r.post(body, content_type)
        assert got_status == status, (body, answer)
        assert answer["error_code"] in ("BAD_REQUEST", "UNSUPPORTED_MEDIA_TYPE") and message in answer["message"]
        assert r.post(good) == (200, expected)


def test_the_schema_names_the_missing_column(replica: Any, tmp_path: Path, trained: Trained) -> None:
    r = replica(mlflow_folder(tmp_path / "m", trained.array_model, SIGNATURE))
    doc = {"dataframe_split": {"columns": NAMES[:3] + ["y"] + NAMES[4:], "data": [[1.0] * 10]}}
    status, answer = r.post(doc)
    assert status == 400
    assert answer == {
        "error_code": "BAD_REQUEST",
        "message": "missing column 'x3': expected 10 features (x0..x9); got x0..x9",
    }


def test_bodies_without_length_or_over_the_limit(replica: Any, tmp_path: Path, trained: Trained) -> None:
    r = replica(joblib_file(tmp_path, trained.array_model))
    conn = http.client.HTTPConnection(r.host, r.port, timeout=30)
    conn.putrequest("POST", "/invocations")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    conn.endheaders()  # the body is never sent: the replica answers from the headers
    response = conn.getresponse()
    assert response.status == 413 and response.getheader("Connection") == "close"
    assert json.loads(response.read())["error_code"] == "REQUEST_TOO_LARGE"
    conn.close()

    head = "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
    answer = raw_exchange(r, (head + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n").encode())
    assert answer.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in answer
    answer = raw_exchange(r, (head + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n").encode())
    assert answer.startswith(b"HTTP/1.1 411 ") and b"LENGTH_REQUIRED" in answer
    answer = raw_exchange(r, b"POST /invocations HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411 ")
    assert r.post(formats(trained.X[:2])["inputs"])[0] == 200


def test_garbage_gets_400_and_the_replica_keeps_serving(replica: Any, tmp_path: Path, trained: Trained) -> None:
    r = replica(joblib_file(tmp_path, trained.array_model))
    assert raw_exchange(r, b"\x16\x03\x01 garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw_exchange(r, b"GET / HTTP/9.9\r\n\r\n").split(b" ")[1] in (b"400", b"505")
    assert raw_exchange(r, b"POST /invocations HTTP/1.1\r\nContent-Length: -4\r\n\r\n").startswith(b"HTTP/1.1 400")
    with socket.create_connection((r.host, r.port), timeout=30) as s:
        s.sendall(b"POST /invocations HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")  # then hangs up mid-body
    assert r.request("GET", "/ping")[0] == 200
    assert r.post(formats(trained.X[:2])["inputs"])[0] == 200


FLAKY_MODEL = """
    def load(path):
        return None

    def predict(model, inputs):
        if any(row[0] < 0 for row in inputs.tolist()):
            raise ValueError("negative input")
        return [row[0] * 2 for row in inputs.tolist()]
"""


def test_a_model_that_raises_is_a_500_and_the_next_request_is_served(replica: Any, tmp_path: Path) -> None:
    r = replica(python_model(tmp_path / "flaky", FLAKY_MODEL))
    status, answer = r.post({"inputs": [[1], [-1]]})
    assert status == 500
    assert answer == {"error_code": "MODEL_ERROR", "message": "ValueError: negative input"}
    assert r.post({"inputs": [[1], [2]]}) == (200, {"predictions": [2, 4]})
    assert "negative input" in r.stderr()


SLOW_MODEL = """
    import os, time

    def load(path):
        return path

    def predict(folder, inputs):
        open(os.path.join(folder, "started"), "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(folder, "release")) and time.monotonic() < deadline:
            time.sleep(0.01)
        return [1 for _ in range(len(inputs))]
"""


def test_sigterm_finishes_the_request_in_flight_then_exits_0(replica: Any, tmp_path: Path) -> None:
    folder = python_model(tmp_path / "slow", SLOW_MODEL)
    r = replica(folder)
    answers: list[tuple[int, Any]] = []
    client = threading.Thread(target=lambda: answers.append(r.post({"inputs": [[1], [2]]})))
    client.start()
    wait_until(lambda: (folder / "started").exists(), 30, "the model to start predicting")
    r.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: "no longer accepting; 1 request(s) in flight" in r.stdout(), 30, "the replica to stop accepting")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((r.host, r.port), timeout=5).close()
    (folder / "release").touch()
    client.join(60)
    assert answers == [(200, {"predictions": [1, 1]})]
    assert r.proc.wait(30) == 0
    assert r.stdout().endswith("kiln.serve: stopped\n")


def test_skops_and_an_mlflow_folder_without_mlflow_or_yaml(replica: Any, tmp_path: Path, trained: Trained) -> None:
    X = trained.X[:8]
    expected = {"predictions": trained.array_model.predict(X).tolist()}
    skops.io.dump(trained.array_model, tmp_path / "model.skops")
    assert replica(tmp_path / "model.skops").post(formats(X)["inputs"]) == (200, expected)
    blocked = blocked_imports(tmp_path, "mlflow", "yaml")
    env = {"PYTHONPATH": os.pathsep.join([str(blocked), os.environ.get("PYTHONPATH", "")])}
    r = replica(mlflow_folder(tmp_path / "mlflow-model", trained.array_model, SIGNATURE), env=env)
    assert r.request("GET", "/version")[1]["flavor"] == "mlflow-sklearn"
    assert r.post(formats(X)["dataframe_records"]) == (200, expected)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "absent", "no model at"),
        (lambda tmp: python_model(tmp / "bad", "raise RuntimeError('broken on import')\n"), "broken on import"),
    ],
)
def test_a_model_that_does_not_load_exits_2(replica: Any, tmp_path: Path, make: Any, message: str) -> None:
    r = replica(make(tmp_path), ready=False)
    assert r.proc.wait(60) == 2
    assert "kiln.serve: cannot serve" in r.stderr() and message in r.stderr()
    assert not r.port_file.exists()


def test_the_mounted_sdk_serves_on_the_standard_library_alone(replica: Any, tmp_path: Path, trained: Trained) -> None:
    sdk = prepare_sdk(tmp_path / "sdk-cache")
    files = sorted(p.relative_to(sdk).as_posix() for p in sdk.rglob("*.py"))
    assert {"kiln/serve/__init__.py", "kiln/serve/__main__.py", "kiln/serve/batch.py"} <= set(files)
    probe = (
        "import sys, kiln, kiln.serve.server, kiln.serve.batch, kiln.serve.models;"
        "print(kiln.__file__);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kiln', 'numpy', 'pandas', 'sklearn')))"
    )
    env = {**os.environ, "PYTHONPATH": str(sdk)}
    command = [sys.executable, "-c", probe]
    out = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    where, modules = out.splitlines()
    assert where == str(sdk / "kiln" / "__init__.py")
    assert all(m == "kiln" or m.startswith(("kiln.serve", "kiln.track")) for m in eval(modules)), modules
    r = replica(joblib_file(tmp_path, trained.array_model), env={"PYTHONPATH": str(sdk)})
    assert r.post(formats(trained.X[:3])["inputs"]) == (
        200,
        {"predictions": trained.array_model.predict(trained.X[:3]).tolist()},
    )
