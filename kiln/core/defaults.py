"""Every default Kiln ships with, in one place."""

from __future__ import annotations

COORDINATOR_PORT = 7443
LISTEN = f"127.0.0.1:{COORDINATOR_PORT}"

# The name every coordinator certificate carries, so clients that pin the CA can reach the coordinator by
# any address (NAT, IP, alias) without the certificate listing it.
TLS_SERVER_NAME = "kiln-coordinator"

BOOTSTRAP_ADMIN = "admin"
SESSION_TOKEN_TTL_S = 30 * 24 * 3600
API_TOKEN_TTL_S = 90 * 24 * 3600
MIN_PASSWORD_LENGTH = 8

MAX_UPLOAD_BYTES = 20 * 1024**3  # per file (blob)
MAX_OUTPUT_BYTES = 20 * 1024**3  # what one run may create or change in its folder (kiln agent --max-output-bytes)
MAX_MESSAGE_BYTES = 64 * 1024**2  # one gRPC message
CHUNK_BYTES = 1024**2  # blob parts and upload messages are packed up to this size
SNAPSHOT_ID_MIN_PREFIX = 8

AUDIT_PAGE = 1000
