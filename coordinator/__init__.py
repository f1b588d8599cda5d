"""The coordinator: system of record and gRPC front door of a Kiln installation."""
