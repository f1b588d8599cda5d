"""Every default Kiln ships with, in one place."""

from __future__ import annotations

COORDINATOR_PORT = 7443
LISTEN = f"127.0.0.1:{COORDINATOR_PORT}"
GATEWAY_PORT = 7445  # the HTTP gateway of model endpoints (the agents' port is the coordinator's + 1)
GATEWAY_LISTEN = f"127.0.0.1:{GATEWAY_PORT}"
MLFLOW_PORT = 7446  # the MLflow-compatible API (a project's tracking URI: https://HOST:7446/projects/NAME)
MLFLOW_LISTEN = f"127.0.0.1:{MLFLOW_PORT}"
# Where a node's model replicas listen: the address the gateways reach the node at (kiln agent --serve-host),
# given to every job as $KILN_SERVE_HOST (kiln.serve reads it; its copy of the name is kiln.serve.SERVE_HOST_ENV).
SERVE_HOST = "127.0.0.1"
SERVE_HOST_ENV = "KILN_SERVE_HOST"

# The name every coordinator certificate carries, so clients that pin the CA can reach the coordinator by
# any address (NAT, IP, alias) without the certificate listing it.
TLS_SERVER_NAME = "kiln-coordinator"

BOOTSTRAP_ADMIN = "admin"
SESSION_TOKEN_TTL_S = 30 * 24 * 3600
API_TOKEN_TTL_S = 90 * 24 * 3600
# No token outlives this (kiln coordinator --max-token-lifetime); a longer one asked for is refused, and
# the defaults above are shortened to it when it is set lower.
MAX_TOKEN_TTL_S = 365 * 24 * 3600
MIN_PASSWORD_LENGTH = 8

# Sign-in throttling (coordinator/throttle.py). Failed sign-ins are counted per user name and per source
# address (an IPv6 source by its /64) over a sliding window. Below the free count nothing changes; from
# there on each further attempt must wait after the last failure, the wait doubling from the base delay
# per failure up to the cap, and an attempt that comes sooner is refused (RESOURCE_EXHAUSTED) before any
# password is hashed. A sign-in that succeeds clears its user name's count (not its source's).
SIGNIN_FREE_FAILURES_PER_USER = 5
SIGNIN_FREE_FAILURES_PER_SOURCE = 20
SIGNIN_WINDOW_S = 15 * 60
SIGNIN_BASE_DELAY_S = 1.0
SIGNIN_MAX_DELAY_S = 60.0
SIGNIN_TRACKED_KEYS = 10_000  # user names and sources remembered at once (the oldest are forgotten first)

MAX_UPLOAD_BYTES = 20 * 1024**3  # per file (blob)
MAX_OUTPUT_BYTES = 20 * 1024**3  # what one run may create or change in its folder (kiln agent --max-output-bytes)
LOG_CAP_BYTES = 4 * 1024**3  # of a run's output kept, beyond it the middle goes (kiln coordinator --log-cap-bytes)
ENV_CACHE_BYTES = 50 * 1024**3  # built environments a node keeps (kiln agent --env-cache-bytes)
MAX_MESSAGE_BYTES = 64 * 1024**2  # one gRPC message
CHUNK_BYTES = 1024**2  # blob parts and upload messages are packed up to this size
SNAPSHOT_ID_MIN_PREFIX = 8

AUDIT_PAGE = 1000
# The coordinator signs every audit record; beside its key it also keeps a signed checkpoint of the head,
# rewritten after this many records or this many seconds (whichever comes first) and on `kiln audit anchor`.
AUDIT_CHECKPOINT_RECORDS = 100
AUDIT_CHECKPOINT_S = 300.0

# Model replicas' liveness probe (agent/liveness.py): once a replica tells its address, the agent that
# started it asks its GET /ping every period; that many failures in a row (no answer within the timeout,
# or not 200) and the replica is killed as hung, so the deployment controller starts another.
LIVENESS_PERIOD_S = 5.0
LIVENESS_TIMEOUT_S = 5.0
LIVENESS_FAILURES = 3

# The model endpoints' gateway (coordinator/gateway/). It probes every replica it routes to with GET /ping
# each interval; a replica failing that many probes in a row takes no requests until one passes again.
GATEWAY_PROBE_INTERVAL_S = 1.0
GATEWAY_PROBE_TIMEOUT_S = 1.0
GATEWAY_PROBE_FAILURES = 2
GATEWAY_TRIES = 3  # replicas tried for one request before the client gets 503
GATEWAY_CONNECT_TIMEOUT_S = 2.0
GATEWAY_ANSWER_TIMEOUT_S = 60.0  # a model may take long; past this the client gets 504 (not retried: it may be running)
GATEWAY_ROUTE_POLL_S = 0.25  # a weight change reaches every gateway within a second even with a slow backend
GATEWAY_KEEP_ALIVE_S = 75  # longer than the usual client pools' idle time, so clients rarely meet a closed connection
GATEWAY_TOKEN_ALLOWED_FOR_S = 5.0  # how long a yes is trusted: a revoked token stops working within this
GATEWAY_TOKEN_REFUSED_FOR_S = 1.0  # a no is kept briefly too, so a client retrying a bad token costs little
GATEWAY_SHIP_EVERY_S = 0.2  # the prediction ledger's spool is shipped to the coordinator this often
