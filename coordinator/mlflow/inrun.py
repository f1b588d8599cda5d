"""MLflow inside a Kiln run: the variables the agent gives the run (MLFLOW_TRACKING_URI of its project,
MLFLOW_RUN_ID = its own id, MLFLOW_EXPERIMENT_ID, and MLFLOW_TRACKING_TOKEN, a token of that run alone;
the agent adds MLFLOW_TRACKING_SERVER_CERT_PATH), so `mlflow.start_run()` in the run's code attaches to
the run itself. Only runs on the host network get them (`kiln run --network host`): a run on network
`none` cannot reach the coordinator, and a tracking URI it cannot reach would make its client hang in
retries instead of logging to its own folder.

A run's token is an HMAC of (run, attempt) under a key derived from the coordinator's TLS key: nothing is
stored, it is never shown in the run's record (it travels only in the assignment to the node), and it is
honoured only while that attempt of the run is active. It acts as the run's user, except that it may
write to no run but its own and create none.
"""

from __future__ import annotations

import hashlib
import hmac

from kiln.coordinator.context import Coordinator
from kiln.core.errors import Unauthenticated
from kiln.core.permissions import Principal
from kiln.core.runs import Run

PREFIX = "kiln-run."


def _key(ctx: Coordinator) -> bytes:
    return hashlib.sha256(b"kiln mlflow run token\0" + ctx.tls.key_pem).digest()


def run_token(ctx: Coordinator, run_id: str, attempt: int) -> str:
    mac = hmac.new(_key(ctx), f"{run_id}.{attempt}".encode(), hashlib.sha256).hexdigest()
    return f"{PREFIX}{run_id}.{attempt}.{mac}"


def run_env(ctx: Coordinator, run: Run) -> dict[str, str]:
    """What a run gets when the coordinator serves MLflow and the run may reach it ({} otherwise: a run on
    network `none`, the default, reaches only its SDK's socket; `kiln run --network host` for MLflow)."""
    if not ctx.mlflow_url or run.spec.network == "none":
        return {}
    facts = ctx.store.mlflow_runs([run.id]).get(run.id) or {}
    return {
        "MLFLOW_TRACKING_URI": f"{ctx.mlflow_url}/projects/{run.spec.project}",
        "MLFLOW_RUN_ID": run.id,
        "MLFLOW_EXPERIMENT_ID": facts.get("experiment", "0"),
        "MLFLOW_TRACKING_TOKEN": run_token(ctx, run.id, run.attempt),
    }


def run_principal(ctx: Coordinator, token: str) -> Principal:
    """The caller a run token stands for, or Unauthenticated."""
    try:
        run_id, attempt, mac = token[len(PREFIX) :].rsplit(".", 2)
        number = int(attempt)
    except ValueError:
        raise Unauthenticated("the run token is malformed") from None
    if not hmac.compare_digest(run_token(ctx, run_id, number), token):
        raise Unauthenticated("the run token is not this coordinator's")
    run = ctx.store.run(run_id, with_events=False)
    if run is None or run.attempt != number or run.state.terminal:
        raise Unauthenticated(f"run {run_id}'s token ended with its attempt {number}")
    user = ctx.store.user(run.user)
    return Principal(run.user, bool(user and user.is_admin), f"run:{run_id}", run=run_id)
