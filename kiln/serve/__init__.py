"""kiln.serve: a registered model as an HTTP endpoint (a *replica*), and batch scoring of files.

    python -m kiln.serve --model PATH [--host 127.0.0.1] [--port 0] [--name NAME] [--version N]
    python -m kiln.serve.batch --model PATH --input DIR_OR_FILE --output DIR

The agent mounts this package into a deployment's job next to `kiln.track`, and the replica runs in the
model's own Python environment, so it uses the standard library only at import time (Python 3.8+);
numpy, pandas, scikit-learn, joblib, skops and mlflow are imported when a model or an input needs them,
from that environment. Nothing else of kiln is imported but `kiln.track`, to report the address.

Replica protocol (HTTP/1.1, keep-alive; the gateway forwards a client's body unchanged, so MLflow
clients work as they are):

    POST /invocations   Content-Type: application/json (charset utf-8, if any) or text/csv (header row)
        {"dataframe_split": {"columns": ["x0", "x1"], "data": [[1, 2], [3, 4]], "index": [0, 1]}}
        {"dataframe_records": [{"x0": 1, "x1": 2}, {"x0": 3, "x1": 4}]}
        {"instances": [[1, 2], [3, 4]]}            (or records: [{"x0": 1, "x1": 2}, ...])
        {"inputs": [[1, 2], [3, 4]]}               (or columns: {"x0": [1, 3], "x1": [2, 4]})
        each may carry "params": {...}, handed to models that take them (MLflow pyfunc, plain Python)
      200  {"predictions": [...]}
      400  {"error_code": "BAD_REQUEST", "message": "expected 10 features (x0..x9); got 9"}
           a body that is not one of the formats above, or does not fit the model's input schema
      411  {"error_code": "LENGTH_REQUIRED", ...}       no Content-Length (chunked bodies are refused)
      413  {"error_code": "REQUEST_TOO_LARGE", ...}     a body over MAX_BODY_BYTES (the connection closes)
      415  {"error_code": "UNSUPPORTED_MEDIA_TYPE", ...}
      500  {"error_code": "MODEL_ERROR", "message": "ValueError: ..."}   the model raised; the replica
           keeps serving
    GET /ping (and /health)   200 once the model is loaded: the readiness and liveness probe
    GET /version              200 {"name", "version", "flavor", "schema": {...}}

Start-up: a model that does not load exits 2 with the reason on stderr. Once listening, the replica
prints `kiln.serve: serving NAME version V at http://HOST:PORT`, writes HOST:PORT to --port-file if given,
and sets the run tag ADDRESS_TAG to HOST:PORT through kiln.track (outside a Kiln run that is only a
warning). SIGTERM stops accepting, lets the requests in flight finish (up to DRAIN_TIMEOUT_S) and exits
0, so a rolling switch between versions loses no request.
"""

ADDRESS_TAG = "kiln.serve.address"
# The address to listen on when --host is not given: the agent sets it to where gateways reach its node.
SERVE_HOST_ENV = "KILN_SERVE_HOST"

# Bodies over this are refused (413) before they are read: a replica holds a request in memory whole.
MAX_BODY_BYTES = 8 * 1024 * 1024
# How long SIGTERM waits for the requests in flight before the replica exits anyway.
DRAIN_TIMEOUT_S = 10.0
# An idle keep-alive connection is closed after this long (the gateway reconnects when it needs to).
IDLE_TIMEOUT_S = 300.0
# Batch scoring predicts this many rows at a time: small enough that each chunk's arrays (20 MiB for 10
# features) are the memory the last chunk freed, rather than fresh pages the kernel must first supply, which
# cost more than the predicting (python -m kiln.serve.batch over 1 M CSV rows here: 2.2 M rows/s at this size,
# 1.1-1.7 M at 1 M rows a chunk).
CHUNK_ROWS = 262_144
