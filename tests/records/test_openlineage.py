"""The OpenLineage export through a real coordinator and agent: every event valid against the official
schema and facet schemas (vendored in openlineage-spec/) and Kiln's own shipped facet schemas, and the
events meaning what they say: one job per entry point, the state at each event, disjoint inputs and
outputs, parents and reruns as `parent` facets, errors on FAIL and ABORT, versions in version facets."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from kiln.core.openlineage import KILN_FACETS, SCHEMA_URL, facet_schemas, run_uuid
from kiln.core.runs import RunSpec
from tests.compute.conftest import push_folder
from tests.conftest import wait_until

SPEC = Path(__file__).parent / "openlineage-spec"
TRAIN = (
    "import os, sys, kiln.track as kt\n"
    "kt.log_param('lr', sys.argv[2])\n"
    "kt.log_dataset('images')\n"
    "print(open(os.path.join(os.environ['KILN_DATASETS'], 'images', 'labels.csv')).read().strip())\n"
    "os.makedirs('model', exist_ok=True); open('model/w', 'w').write(sys.argv[2])\n"
    "kt.log_model('model', name='m')\n"
)


def registry() -> Registry:
    """The official schema and facets, and Kiln's shipped facets, each under its own `$id` (nothing is
    fetched: a `_schemaURL` that names no file here does not resolve)."""
    schemas = [json.loads(p.read_text()) for p in [SPEC / "OpenLineage.json", *sorted(SPEC.glob("facets/*.json"))]]
    schemas += facet_schemas().values()
    return Registry().with_resources((s["$id"], DRAFT202012.create_resource(s)) for s in schemas)


def validate(event: dict[str, Any], reg: Registry) -> None:
    check = Draft202012Validator.FORMAT_CHECKER
    Draft202012Validator({"$ref": event["schemaURL"]}, registry=reg, format_checker=check).validate(event)
    assert event["schemaURL"] == SCHEMA_URL
    datetime.fromisoformat(event["eventTime"])
    for facet in facets_of(event):
        Draft202012Validator({"$ref": facet["_schemaURL"]}, registry=reg, format_checker=check).validate(facet)
    validate_with_openlineage_python(event)


def facets_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    found = [*event["job"]["facets"].values(), *event["run"]["facets"].values()]
    for d in event["inputs"] + event["outputs"]:
        found += [*d.get("facets", {}).values(), *d.get("inputFacets", {}).values()]
        found += d.get("outputFacets", {}).values()
    return found


def validate_with_openlineage_python(event: dict[str, Any]) -> None:
    """Builds the spec's generated RunEvent from the JSON: its validators check the UUID, the times, the
    event type, and that job, run and datasets carry their required fields."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

    RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"], facets={}),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"], facets={}),
        producer=event["producer"],
        inputs=[InputDataset(namespace=d["namespace"], name=d["name"]) for d in event["inputs"]],
        outputs=[OutputDataset(namespace=d["namespace"], name=d["name"]) for d in event["outputs"]],
    )


def key(d: dict[str, Any]) -> tuple[str, str, str]:
    return d["namespace"], d["name"], d.get("facets", {}).get("version", {}).get("datasetVersion", "")


def test_kiln_facet_schemas_are_shipped_and_named_by_their_urls():
    shipped = facet_schemas()
    assert {i.rpartition(":")[2] for i in shipped} == {
        "KilnRunFacet.json",
        "KilnEnvironmentRunFacet.json",
        "KilnErrorRunFacet.json",
    }
    for schema_id, schema in shipped.items():
        Draft202012Validator.check_schema(schema)
        assert schema_id.startswith(KILN_FACETS)
        name = schema_id.removeprefix(KILN_FACETS).removesuffix(".json")
        assert name in schema["$defs"]  # the pointer each _schemaURL ends with


def test_every_exported_event_is_valid_and_means_what_it_says(cluster):
    cluster.agent("n1")
    data = cluster.admin.add_dataset_version("p", "images", push_folder(cluster, {"labels.csv": "cat,1\n"}))
    code = push_folder(cluster, {"train.py": TRAIN})

    def submit(*args: str, parent: str = "", command: tuple[str, ...] = ()) -> str:
        spec = RunSpec(
            "p", command or (sys.executable, "train.py", *args), code, datasets=("images:1",), parent_run=parent
        )
        return cluster.admin.submit_run(spec).id

    first = submit("--lr", "0.1")
    assert str(cluster.wait_run(first).state) == "succeeded", cluster.output(first)
    child = submit("--lr", "0.2", parent=first)
    again = cluster.admin.rerun(first).id
    unchanged = submit(command=(sys.executable, "-c", "pass"))
    bad = submit(command=("sh", "-c", "exit 2"))
    slow = submit(command=(sys.executable, "-c", "import time; time.sleep(120)"))
    for run in (child, again, unchanged, bad):
        cluster.wait_run(run)
    wait_until(lambda: str(cluster.admin.get_run(slow).state) == "running", 30, "the slow run to start")
    cluster.admin.cancel_run(slow)
    cluster.wait_run(slow)
    model = cluster.admin.register_model(first, "model", "churn")
    done = {r: cluster.admin.get_run(r) for r in (first, child, again, unchanged, bad, slow)}
    assert [str(done[r].state) for r in (first, child, again, unchanged, bad)] == ["succeeded"] * 4 + ["failed"]

    reg = registry()
    events = [json.loads(line) for line in cluster.admin.export_openlineage("p")]
    by_run: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        validate(event, reg)
        by_run.setdefault(event["run"]["facets"]["kiln_run"]["runId"], []).append(event)
        assert not {key(d) for d in event["inputs"]} & {key(d) for d in event["outputs"]}
        assert all("@" not in d["name"] for d in event["inputs"] + event["outputs"])
        assert event["run"]["runId"] == run_uuid(event["run"]["facets"]["kiln_run"]["runId"])
    kinds = {r: [e["eventType"] for e in es] for r, es in by_run.items()}
    assert kinds == {
        first: ["START", "COMPLETE", "OTHER"],  # OTHER: the model version registered later
        child: ["START", "COMPLETE"],
        again: ["START", "COMPLETE"],
        unchanged: ["START", "COMPLETE"],
        bad: ["START", "FAIL"],
        slow: ["START", "ABORT"],
    }
    for es in by_run.values():
        assert [e["eventTime"] for e in es] == sorted(e["eventTime"] for e in es)

    # one job per entry point, whatever the params; the command and params are the run's
    jobs = {r: es[0]["job"]["name"] for r, es in by_run.items()}
    assert jobs[first] == jobs[child] == jobs[again] == "p/train.py"
    assert (jobs[bad], jobs[slow]) == ("p/exit", "p/python")
    assert {e["job"]["namespace"] for e in events} == {"kiln"}
    start, complete, other = by_run[first]
    run_facet = complete["run"]["facets"]["kiln_run"]
    assert run_facet["command"] == [sys.executable, "train.py", "--lr", "0.1"] and run_facet["params"] == {"lr": "0.1"}
    assert by_run[child][1]["run"]["facets"]["kiln_run"]["params"] == {"lr": "0.2"}

    # the state at each event: START is not told how the run ended, nor its params
    started = start["run"]["facets"]["kiln_run"]
    assert started["state"] == "running" and "params" not in started
    assert run_facet["state"] == "succeeded" and "errorMessage" not in complete["run"]["facets"]

    # inputs and outputs: versions in the version facet, the output only once it exists
    snapshot_input = ("kiln", f"p/snapshots/{code}", "")
    assert {key(d) for d in start["inputs"]} == {snapshot_input, ("kiln", "p/datasets/images", "1")}
    assert data.version == 1 and start["outputs"] == []
    assert {key(d) for d in complete["outputs"]} == {("kiln", f"p/snapshots/{done[first].output_snapshot}", "")}
    assert ("kiln", "p/models/churn", str(model.version)) in {key(d) for d in other["outputs"]}
    assert by_run[unchanged][1]["outputs"] == []  # its folder was its input: no output

    # runs started from another name it in the standard parent facet
    for run, origin in ((child, first), (again, first)):
        parent = by_run[run][0]["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == run_uuid(origin)
        assert parent["job"] == {"namespace": "kiln", "name": "p/train.py"}
    assert by_run[again][0]["run"]["facets"]["kiln_run"]["rerunOf"] == first
    assert "parent" not in by_run[first][0]["run"]["facets"]

    # FAIL and ABORT say why
    fail = by_run[bad][1]["run"]["facets"]
    assert fail["kiln_error"]["exitCode"] == 2 and fail["kiln_error"]["state"] == "failed"
    assert "exit code 2" in fail["errorMessage"]["message"] and fail["errorMessage"]["programmingLanguage"] == "shell"
    abort = by_run[slow][1]["run"]["facets"]
    assert abort["kiln_error"]["state"] == "cancelled" and abort["errorMessage"]["message"]


def test_a_facet_url_that_names_no_shipped_file_does_not_validate():
    from referencing.exceptions import Unresolvable

    nowhere = {"$ref": "https://kiln.invalid/spec/facets/1-0-0/KilnRunFacet.json"}  # what 0.1 pointed at
    with pytest.raises(Unresolvable):
        Draft202012Validator(nowhere, registry=registry()).validate({})
