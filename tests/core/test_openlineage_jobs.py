"""The OpenLineage job of a run: named by what its command runs, the same whatever its parameters."""

import pytest

from kiln.core.openlineage import job_name
from kiln.core.openlineage.jobs import EntryPoint, entry_point


@pytest.mark.parametrize(
    "command, name, language",
    [
        (("python", "train.py"), "train.py", "python"),
        (("python", "train.py", "--lr", "0.1"), "train.py", "python"),
        (("/opt/venv/bin/python3.11", "-u", "./src/train.py", "--epochs", "3"), "src/train.py", "python"),
        (("python", "-m", "pkg.train", "--lr", "1"), "pkg.train", "python"),
        (("torchrun", "--nproc-per-node", "2", "train.py"), "train.py", "python"),
        (("torchrun", "-m", "pkg.train"), "pkg.train", "python"),
        (("env", "A=1", "B=2", "python", "/work/train.py"), "train.py", "python"),  # absolute: its name
        (("Rscript", "fit.R"), "fit.R", "R"),
        (("bash", "run.sh", "x"), "run.sh", "shell"),
        (("sh", "-c", "cd src && python eval.py --k 5"), "eval.py", "python"),
        (("sh", "-c", "exit 2"), "exit", "shell"),
        (("sh", "-c", "echo 'unbalanced"), "echo", "shell"),
        (("echo", "hi"), "echo", "unknown"),
        (("python", "-c", "print(1)"), "python", "python"),
        (("git", "commit", "-m", "msg.py"), "msg.py", "python"),  # -m means a module only to python
    ],
)
def test_the_entry_point_is_the_script_module_or_program(command, name, language):
    assert entry_point(command).name == name
    assert entry_point(command).language == language


def test_hyper_parameters_do_not_make_a_new_job():
    assert job_name("demo", ("python", "train.py", "--lr", "0.1")) == "demo/train.py"
    assert job_name("demo", ("python", "train.py", "--lr", "0.2")) == "demo/train.py"
    assert job_name("demo", ("python", "eval.py")) == "demo/eval.py"


def test_an_empty_command_still_names_a_job():
    assert entry_point(()) == EntryPoint("run", "unknown", False)
    assert entry_point(("A=1",)).name == "run"
