"""Every limit on what callers send, in one table.

The coordinator checks each field that comes from outside (a person, a client, an agent, a run's SDK)
against this table before it stores, logs or audits anything, so no caller can make a record that breaks a
listing for everyone, bloat the audit log, or hand a node a path its file system cannot take. The sizes
are chosen so that what one listing returns stays far below the gRPC message limit
(`defaults.MAX_MESSAGE_BYTES`, 64 MiB): a run's spec is at most about 40 KiB (command 16 KiB, env 16 KiB,
labels 2 KiB, datasets), so a page of 1,000 runs fits; a run's tracked record (GetRunRecord: params, tags,
metric keys, artifacts, environment) stays under about 45 MiB even in 4-byte characters.

A refusal names the field, the limit and what was given, in the units people read ("project description
is 25.0 MiB; at most 4 KiB"); a value is only ever echoed as a short escaped prefix (`preview`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from typing import TypeVar

from kiln.core.errors import InvalidArgument
from kiln.core.units import format_size

KiB = 1024
MiB = 1024 * KiB

T = TypeVar("T", bound=Sized)

PREVIEW_CHARS = 40  # how much of a refused value an error message shows
AUDIT_NAME_CHARS = 64  # how much of an unverified name (a failed sign-in) the audit log keeps


def preview(value: str, chars: int = PREVIEW_CHARS) -> str:
    """A short, escaped, quoted prefix of `value` for an error message: never the whole of a huge value,
    never a raw control character or newline."""
    return repr(value[:chars]) + ("…" if len(value) > chars else "")


def escaped_prefix(value: str, chars: int = AUDIT_NAME_CHARS) -> str:
    """`value`'s first `chars` characters with everything outside printable ASCII escaped (\\n, \\x1b,
    \\u200b), unquoted: what the audit log and the coordinator's log keep of a name nobody vouched for."""
    text = ascii(value[:chars])[1:-1]
    return text + ("…" if len(value) > chars else "")


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def cut(text: str, most: int) -> str:
    """`text` in at most `most` bytes of UTF-8, its end replaced by "…" when it had to be shortened: for
    what must be kept, shortened, rather than refused (a run's reason as its agent reports its end)."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= most:
        return text
    return raw[: max(0, most - 3)].decode("utf-8", "ignore") + "…"


@dataclass(frozen=True)
class Limit:
    """The most a field may hold: bytes of UTF-8 text, characters (where the in-run SDK counts so), or a
    number of items (`unit` names them: "arguments", "entries")."""

    field: str  # as the caller knows it: "project description", "command argument"
    most: int
    unit: str = "bytes"

    def size(self, value: Sized) -> int:
        return utf8_size(value) if self.unit == "bytes" and isinstance(value, str) else len(value)

    def amount(self, n: int) -> str:
        if self.unit == "bytes":
            return format_size(n)
        return f"{n:,} {self.unit}"

    def check(self, value: T, name: str = "", field: str = "") -> T:
        """`value` if it is within the limit; else InvalidArgument naming the field (`field` where the
        caller's word is more precise, "project description"; and `name`, the key or path it belongs to),
        what was given and the limit."""
        self.check_amount(self.size(value), name, field)
        return value

    def check_amount(self, n: int, name: str = "", field: str = "") -> None:
        """The same check for an amount already counted (the bytes of a whole command line)."""
        if n > self.most:
            what = field or self.field
            what = f"{what} {preview(name)}" if name else what
            verb = "is" if self.unit == "bytes" else "has"
            raise InvalidArgument(f"{what} {verb} {self.amount(n)}; at most {self.amount(self.most)}")

    def text(self, value: str, name: str = "", field: str = "") -> str:
        """A person's text (a description, a message): within the limit and without NUL characters,
        which some tools and terminals cut text at."""
        self.check(value, name, field)
        if "\x00" in value:
            what = field or self.field
            what = f"{what} {preview(name)}" if name else what
            raise InvalidArgument(f"{what} contains a NUL character")
        return value


@dataclass(frozen=True)
class MapLimit:
    """A string map (env vars, labels, tags): how many entries, each key and value, and all of it together."""

    field: str
    entries: int
    key: Limit
    value: Limit
    total: int  # bytes of every key and value together

    def check(
        self,
        mapping: Mapping[str, str],
        key_rule: Callable[[str], object] | None = None,
        value_rule: Callable[[str, str], object] | None = None,
    ) -> Mapping[str, str]:
        Limit(self.field, self.entries, "entries").check(mapping)
        total = 0
        for key, value in mapping.items():
            self.key.check(key)
            if key_rule is not None:
                key_rule(key)
            self.value.check(value, key)
            if value_rule is not None:
                value_rule(key, value)
            total += utf8_size(key) + utf8_size(value)
        Limit(f"{self.field} (keys and values together)", self.total).check_amount(total)
        return mapping


# -- the table --------------------------------------------------------------------------------------------

# Names people choose (users, projects, nodes, datasets, models, aliases, tokens, labels): kiln.core.names
# holds the rule (charset per kind); this is its length.
NAME = Limit("name", 63, "characters")
ENV_NAME = Limit("env var name", 128, "characters")

# Sign-in. A login's user name is only looked up, never stored as given (see escaped_prefix).
LOGIN_NAME = Limit("user name", 256)
PASSWORD = Limit("password", 1 * KiB)
JOIN_TOKEN = Limit("join token", 512)
CERTIFICATE_REQUEST = Limit("certificate request", 16 * KiB)

# What people write.
DESCRIPTION = Limit("description", 4 * KiB)  # projects, dataset versions
MESSAGE = Limit("message", 4 * KiB)  # snapshots, alias requests, reviews
COMMENT = Limit("comment", 16 * KiB)

# References to things that exist (ids, id prefixes, digests, NAME:VERSION): looked up, never stored as
# given, but bounded so an error message or a query never carries megabytes.
REFERENCE = Limit("reference", 256)

# Runs.
COMMAND = Limit("command", 1024, "arguments")
COMMAND_ARGUMENT = Limit("command argument", 8 * KiB)
COMMAND_BYTES = Limit("command", 16 * KiB)
ENV = MapLimit("env", 128, ENV_NAME, Limit("env var value", 8 * KiB), 16 * KiB)
LABELS = MapLimit(
    "labels", 32, Limit("label key", NAME.most, "characters"), Limit("label value", NAME.most, "characters"), 2 * KiB
)
RUN_DATASETS = Limit("datasets", 32, "datasets")
IMAGE = Limit("image", 512)
GPU_MODEL = Limit("gpu model", 128)

# What a run's SDK logs (kiln.track checks the same key and value lengths, in characters, before sending).
TRACK_KEY = Limit("key", 250, "characters")  # param, tag and metric keys; dataset and model names; flavors
TRACK_VALUE = Limit("value", 6000, "characters")  # param and tag values
REASON = 16 * KiB  # of a run's reason as its agent reports it, shortened to fit
ENVIRONMENT = MapLimit(
    "environment", 64, Limit("environment key", 128), Limit("environment value", 256 * KiB), 512 * KiB
)
RUN_PARAMS = Limit("params of a run", 500, "params")
RUN_TAGS = Limit("tags of a run", 500, "tags")
RUN_METRIC_KEYS = Limit("metric keys of a run", 10_000, "keys")
RUN_ARTIFACTS = Limit("artifacts of a run", 10_000, "artifacts")
RUN_MODELS = Limit("models of a run", 1000, "models")
METRIC_KEYS = Limit("metric keys asked for", 1000, "keys")

# The model registry.
MODEL_TAGS = MapLimit("model tags", 32, TRACK_KEY, Limit("model tag value", 1 * KiB), 8 * KiB)

# Search (kiln.core.query). SQLite joins at most 64 tables; each params/metrics/tags field is one join.
FILTER = Limit("filter", 8 * KiB)
FILTER_CONDITIONS = Limit("filter", 20, "conditions")
FILTER_NESTING = 20  # parentheses deep
SORT = Limit("sort", 2 * KiB)
SEARCH_FIELDS = Limit("search", 20, "distinct params, metrics and tags fields")
COLUMNS = Limit("columns", 32, "columns")

# Snapshots. A manifest travels whole in one message (CreateSnapshot, GetSnapshot), so its canonical form
# stays well below the message limit; paths stay within what file systems take: 255 bytes a component
# (ext4, XFS, APFS, NTFS), and a total that leaves room for the folder a snapshot is pulled into
# (Linux's PATH_MAX is 4,096 bytes for the whole path, macOS's 1,024).
MANIFEST_ENTRIES = Limit("manifest", 500_000, "entries")
MANIFEST_BYTES = Limit("manifest", 48 * MiB)
PATH = Limit("path", 1 * KiB)
PATH_COMPONENT = Limit("path component", 255)
SYMLINK_TARGET = Limit("symlink target", 4095)  # symlink(2) refuses PATH_MAX and more
SYMLINK_HOPS = 40  # links followed while resolving one, as Linux does before ELOOP

# Every limit above, for the README and the tests.
TABLE: tuple[Limit | MapLimit, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Limit | MapLimit))
