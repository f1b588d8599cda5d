"""The call patterns of the two most used MLflow loggers, as their sources make them (neither framework is
installed: Lightning's MLFlowLogger and Hugging Face's MLflowCallback only drive the mlflow client, and
these are their calls, in their order, with their batch sizes and their synchronous flags)."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.tracking.context.registry import resolve_tags
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME
from mlflow.utils.validation import MAX_PARAMS_TAGS_PER_BATCH

from tests.mlflow.conftest import Tracking


def test_lightning_mlflow_logger_pattern(tracking: Tracking, tmp_path: Path) -> None:
    """lightning.pytorch.loggers.MLFlowLogger: experiment by name (created when missing), a run with the
    resolved tags, hyperparameters in batches of 100, each step's metrics as one log_batch, checkpoints as
    artifacts, then set_terminated."""
    client = MlflowClient(tracking.uri)
    experiment = client.get_experiment_by_name("lightning_logs")
    experiment_id = experiment.experiment_id if experiment else client.create_experiment("lightning_logs")
    run = client.create_run(experiment_id, tags=resolve_tags({MLFLOW_RUN_NAME: "version_0"}))
    run_id = run.info.run_id
    hparams = {f"model/layer{i}/width": str(64 + i) for i in range(250)}
    items = [Param(k, v) for k, v in hparams.items()]
    for start in range(0, len(items), 100):
        client.log_batch(run_id, params=items[start : start + 100], synchronous=True)
    for step in range(200):
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric("train_loss", 1.0 / (step + 1), now, step), Metric("epoch", float(step // 50), now, step)],
            synchronous=True,
        )
    checkpoint = tmp_path / "epoch=3-step=200.ckpt"
    checkpoint.write_bytes(b"\0" * 4096)
    client.log_artifact(run_id, str(checkpoint), "checkpoints")
    client.set_terminated(run_id, "FINISHED")

    got = client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "version_0" and len(got.data.params) == 250
    assert len(client.get_metric_history(run_id, "train_loss")) == 200
    assert [f.path for f in client.list_artifacts(run_id, "checkpoints")] == ["checkpoints/epoch=3-step=200.ckpt"]
    assert str(tracking.admin.get_run(run_id).state) == "succeeded"


def test_hugging_face_mlflow_callback_pattern(tracking: Tracking) -> None:
    """transformers.integrations.MLflowCallback: set_experiment, start_run, the training arguments and model
    config as params in batches of MAX_PARAMS_TAGS_PER_BATCH (asynchronously when MLFLOW_ENABLE_ASYNC_LOGGING),
    metrics per logging step with synchronous=False, then end_run."""
    mlflow.set_experiment("hf-finetune")
    mlflow.start_run(run_name="bert-base")
    combined = [(f"arg_{i}", str(i)) for i in range(330)]  # TrainingArguments + model config, flattened
    for i in range(0, len(combined), MAX_PARAMS_TAGS_PER_BATCH):
        mlflow.log_params(dict(combined[i : i + MAX_PARAMS_TAGS_PER_BATCH]), synchronous=False)
    for global_step in range(10, 510, 10):
        mlflow.log_metrics({"loss": 2.0 / global_step, "learning_rate": 5e-5}, step=global_step, synchronous=False)
    run_id = mlflow.active_run().info.run_id
    mlflow.end_run()  # flushes what is still queued

    got = mlflow.get_run(run_id)
    assert len(got.data.params) == 330 and got.info.status == "FINISHED"
    history = MlflowClient().get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(10, 510, 10))
    assert got.info.experiment_id == MlflowClient().get_experiment_by_name("hf-finetune").experiment_id
