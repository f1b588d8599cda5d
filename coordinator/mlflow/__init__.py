"""The MLflow-compatible REST API: the unmodified `mlflow` client logs into Kiln's own records.

One tracking URI per project, `https://HOST:PORT/projects/PROJECT` (the client appends
`/api/2.0/mlflow/...`). Why per project: MLflow's registered models and its Default experiment belong to
no project, while every Kiln record does, with its permissions; the URI supplies the project, so model
names stay Kiln's project-scoped names and nothing needs a global namespace.

How MLflow's entities map onto Kiln's (the same records `kiln runs`, `kiln compare`, lineage and the
desktop show):
- an experiment lives in the project: experiment "0" (MLflow's Default) is the project itself, holding
  every run made by `kiln run`; more experiments are named groups of the project's runs (`mlflow_experiments`);
- a run created through this API is a Kiln run of kind "external" (runtime `external`): running from its
  creation, never placed on a node, ended by the client's update; inside a Kiln run the agent sets
  MLFLOW_TRACKING_URI, MLFLOW_RUN_ID and a token scoped to that run, so MLflow calls attach to *that* run;
- params, tags and metrics are the run's Kiln params, tags and metrics (every point kept, by step and time);
- artifacts are blobs in Kiln's content-addressed store, listed per run; they become the run's output
  snapshot when it ends (and a snapshot of what is there when a model version is registered from it);
- registered models and versions are Kiln registry entries; an alias move to `production` opens a Kiln
  approval request and answers PERMISSION_DENIED naming it.

Every call is authenticated (a Kiln API token as `Authorization: Bearer`, MLflow's MLFLOW_TRACKING_TOKEN,
or Basic with a Kiln user's password), authorised per project, and audited like the gRPC door.
"""
