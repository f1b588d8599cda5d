from tests.compute.conftest import cluster, docker_ready  # noqa: F401  (the real cluster fixtures)
