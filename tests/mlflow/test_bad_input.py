"""Every call of the MLflow API, given malformed fields through the real server: always a 4xx in MLflow's
error shape, never INTERNAL_ERROR, and nothing changed by a refused call."""

from __future__ import annotations

import json
import ssl
import urllib.parse
import urllib.request
from urllib.error import HTTPError

import pytest

from kiln.coordinator.mlflow.serve import endpoints
from tests.mlflow.conftest import Tracking

BAD_VALUES: list[object] = [
    None, 1, -1, 2**70, 1.5, True, "", "x" * 9000, "../../etc", "\x00", [], ["a", "b"], {}, {"k": 1},
]  # fmt: skip
FIELDS = (
    "run_id", "experiment_id", "name", "key", "value", "metric_key", "max_results", "page_token", "filter",
    "order_by", "status", "tags", "metrics", "params", "version", "alias", "source", "model_id", "path",
    "experiment_ids", "run_view_type", "view_type", "new_name", "start_time", "end_time", "step", "timestamp",
)  # fmt: skip


def _send(tracking: Tracking, method: str, path: str, body: object, query: str = "") -> tuple[int, dict]:
    url = f"{tracking.uri}{path}" + (f"?{query}" if query else "")
    data = None if method == "GET" else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {tracking.token}")
    context = ssl.create_default_context(cafile=str(tracking.ca))
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw.startswith(b"{") else {}
    except HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"not JSON": raw[:200].decode(errors="replace")}


@pytest.mark.parametrize("value", BAD_VALUES, ids=lambda v: type(v).__name__ + str(v)[:8])
def test_no_call_answers_internal_error_to_bad_fields(tracking: Tracking, value: object) -> None:
    json_calls, _ = endpoints()
    before = tracking.admin.list_runs(tracking.project)
    for endpoint in json_calls:
        path = endpoint.full_path.replace("{path:path}", "runs/nope/x").replace("{model_id}", "m-nope")
        path = path.replace("{tag_key}", "k")
        body = {field: value for field in FIELDS}
        if endpoint.method == "GET":
            pairs = [(f, v) for f in FIELDS for v in (value if isinstance(value, list) else [value]) if v is not None]
            status, answer = _send(tracking, "GET", path, None, urllib.parse.urlencode([(f, str(v)) for f, v in pairs]))
        else:
            status, answer = _send(tracking, endpoint.method, path, body)
        assert status < 500 or status == 501, (endpoint.method, path, status, answer)
        if "not JSON" in answer:  # a query string of 250 KB: refused by the HTTP parser before the app
            assert status == 400 and endpoint.method == "GET", (path, answer)
        elif status >= 400:
            assert answer.get("error_code") and answer.get("message"), (path, answer)
    # nothing was created by calls refused (a few succeed: a run created with a bad but tolerable name)
    assert len(tracking.admin.list_runs(tracking.project)) - len(before) <= 2


def test_bodies_that_are_not_json_objects_are_refused_everywhere(tracking: Tracking) -> None:
    json_calls, _ = endpoints()
    for endpoint in json_calls:
        if endpoint.method == "GET":
            continue
        path = endpoint.full_path.replace("{path:path}", "runs/nope/x").replace("{model_id}", "m-nope")
        path = path.replace("{tag_key}", "k")
        for body in (b"\xff\xfe", b"[]", b'"text"', b"{" * 100_000):
            status, answer = _send(tracking, endpoint.method, path, body)
            assert 400 <= status < 500 or status == 501, (path, body[:10], status, answer)
