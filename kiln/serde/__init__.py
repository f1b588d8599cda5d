"""Conversions between wire messages (kiln.proto) and domain values (kiln.core), one module per `.proto`
file, each a set of `x_to_proto` / `x_from_proto` pairs built by keyword.

Shared by both ends of the wire (the coordinator's servicers, the client, the agent's link), so a field is
mapped once. Nothing else outside kiln.proto touches a `_pb2` message's fields.
"""
