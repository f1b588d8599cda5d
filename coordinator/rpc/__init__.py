"""The coordinator's gRPC servicers, one module per `.proto` file they serve (admin, projects, runs, nodes,
link, tracking, registry), the one interceptor every call passes, and the workers that keep blocking work
off the event loop. Servicers decode, call the domain, encode: nothing deeper sees a protobuf type."""
