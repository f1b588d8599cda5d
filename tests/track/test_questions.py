"""The SDK's questions to the agent (kiln/track/__init__.py: "Questions"), with real scripts talking to
the agent's real socket server: log_dataset is checked before it is recorded, raises for what the
project lacks, and records as given (with a warning) when the agent cannot tell. The agent's own answer,
from the coordinator, is tested through a real cluster in tests/records/test_logged_datasets.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.agent.tracking import TrackingServer
from tests.track.conftest import Collector, exchange, run_script

LOG_THREE = """
    import kiln.track as kt
    for name in ("images:2", "images:3", "images"):
        try:
            kt.log_dataset(name)
            print("logged", name)
        except ValueError as e:
            print(e)
"""


class Answers:
    """The agent's side of a question: what to answer, and what was asked."""

    def __init__(self, answer: Callable[[str], dict[str, str]]) -> None:
        self.answer = answer
        self.asked: list[dict[str, Any]] = []

    def __call__(self, question: dict[str, Any]) -> dict[str, str]:
        self.asked.append(question)
        return self.answer(question["name"])


@pytest.fixture
def serve(sock_dir: Path, collector: Collector) -> Iterator[Callable[[Answers | None], TrackingServer]]:
    servers: list[TrackingServer] = []

    def start(answers: Answers | None) -> TrackingServer:
        server = TrackingServer(sock_dir / "q.sock", collector, on_question=answers).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def only_versions_1_and_2(name: str) -> dict[str, str]:
    if name == "images:3":
        return {"error": "dataset images has no version 3 in project p; it has versions 1, 2"}
    return {}


def test_a_missing_version_raises_and_only_known_ones_are_recorded(
    sdk: Path, serve: Callable[[Answers | None], TrackingServer], collector: Collector, workdir: Path
) -> None:
    answers = Answers(only_versions_1_and_2)
    server = serve(answers)
    done = run_script(LOG_THREE, sdk, server.socket_path, workdir)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.splitlines() == [
        "logged images:2",
        "kiln.track: dataset images has no version 3 in project p; it has versions 1, 2",
        "logged images",
    ]
    assert [q["name"] for q in answers.asked] == ["images:2", "images:3", "images"]
    assert collector.listed("datasets") == ["images:2", "images"]


def test_when_the_agent_cannot_tell_it_is_recorded_as_given_with_a_warning(
    sdk: Path, serve: Callable[[Answers | None], TrackingServer], collector: Collector, workdir: Path
) -> None:
    server = serve(Answers(lambda _: {"unchecked": "the coordinator could not be asked: unreachable"}))
    done = run_script(LOG_THREE, sdk, server.socket_path, workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["logged images:2", "logged images:3", "logged images"]
    assert done.stderr.splitlines()[0] == (
        "kiln.track: dataset 'images:2' could not be checked (the coordinator could not be asked: "
        "unreachable); recorded as given"
    )
    assert collector.listed("datasets") == ["images:2", "images:3", "images"]


def test_a_server_without_a_checker_answers_yes(
    sdk: Path, serve: Callable[[Answers | None], TrackingServer], collector: Collector, workdir: Path
) -> None:
    server = serve(None)
    assert exchange(server.socket_path, b'{"ask": "dataset", "name": "x:1"}\n') == [{"answer": "dataset"}]
    done = run_script(LOG_THREE, sdk, server.socket_path, workdir)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert collector.listed("datasets") == ["images:2", "images:3", "images"]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b'{"ask": "weather"}\n', "unknown question 'weather'; this agent answers dataset"),
        (b'{"ask": "dataset"}\n', "question 'dataset' needs a non-empty string 'name'"),
        (b'{"ask": "dataset", "name": 3}\n', "question 'dataset' needs a non-empty string 'name'"),
    ],
)
def test_a_bad_question_gets_an_error_and_delivers_nothing(
    serve: Callable[[Answers | None], TrackingServer], collector: Collector, line: bytes, error: str
) -> None:
    answers = Answers(lambda _: {})
    server = serve(answers)
    assert exchange(server.socket_path, line) == [{"error": error}]
    assert answers.asked == [] and collector.all() == []
    # The server goes on: batches and questions still work.
    assert exchange(server.socket_path, b'{"seq": 1}\n') == [{"ack": 1}]
