"""The error kinds shared by the coordinator, the client and the command line.

Each kind names the gRPC status it travels as (`code`), so the coordinator maps domain errors to statuses
and the client maps statuses back with one table and without this module importing grpc.
"""

from __future__ import annotations


class KilnError(Exception):
    """Base of every error Kiln reports to a person; the message says what went wrong and what to do."""

    code = "UNKNOWN"
    # Whether the coordinator's log gets a line for this refusal: False for one repeating a refusal already
    # logged moments ago (a guesser refused by the sign-in throttle hundreds of times a second).
    logged = True


class InvalidArgument(KilnError):
    code = "INVALID_ARGUMENT"


class NotFound(KilnError):
    code = "NOT_FOUND"


class AlreadyExists(KilnError):
    code = "ALREADY_EXISTS"


class PermissionDenied(KilnError):
    code = "PERMISSION_DENIED"


class Unauthenticated(KilnError):
    code = "UNAUTHENTICATED"


class FailedPrecondition(KilnError):
    code = "FAILED_PRECONDITION"


class ResourceExhausted(KilnError):
    code = "RESOURCE_EXHAUSTED"


class Unavailable(KilnError):
    code = "UNAVAILABLE"


class Internal(KilnError):
    code = "INTERNAL"


ERRORS_BY_CODE: dict[str, type[KilnError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        Unauthenticated,
        FailedPrecondition,
        ResourceExhausted,
        Unavailable,
        Internal,
    )
}


def error_for_code(code: str, message: str) -> KilnError:
    """The domain error for a status code name (unknown codes become a plain KilnError)."""
    return ERRORS_BY_CODE.get(code, KilnError)(message)
