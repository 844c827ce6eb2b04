"""What a newcomer finds from the command line: the algorithms in ``meharl train --help`` and each
family's tasks from ``meharl tasks``."""
import pytest

from deep.config import listed_algos
from deep.envs.registry import ENVS, env_tasks
from meharl.cli import main


def test_train_help_lists_every_algorithm(capsys, monkeypatch):
    from deep.algos import algo_names
    assert listed_algos() == algo_names()  # the help's list (read without torch) is the registry's
    monkeypatch.setenv("COLUMNS", "300")  # one line per option
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"algorithm: {', '.join(algo_names())} (default: hasac)" in out
    assert "`meharl tasks ENV` lists a family's tasks" in out


def test_tasks_of_one_family_one_a_line(capsys):
    assert main(["tasks", "smac"]) == 0
    assert capsys.readouterr().out.splitlines() == list(env_tasks("smac"))


def test_tasks_of_every_family(capsys):
    assert main(["tasks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == list(ENVS)
    assert f"mpe: {', '.join(env_tasks('mpe'))}" in lines
    assert "aircombat: 1v1-NoWeapon-vsBaseline, 1v1-ShootMissile-vsBaseline, 2v2-NoWeapon-vsBaseline, " \
           "2v2-ShootMissile-vsBaseline" in lines


def test_unknown_family_is_one_line_and_status_2(capsys):
    assert main(["tasks", "starcraft"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"meharl tasks: error: unknown env 'starcraft'; valid envs: {', '.join(ENVS)}\n")


def test_family_without_its_simulator(capsys, monkeypatch):
    import deep.envs.registry as registry

    def env_tasks_without_mujoco(env):
        if env == "bimanual":
            raise ModuleNotFoundError("No module named 'mujoco'")
        return env_tasks(env)
    monkeypatch.setattr(registry, "env_tasks", env_tasks_without_mujoco)
    assert main(["tasks", "bimanual"]) == 2
    assert capsys.readouterr().err == ("meharl tasks: error: env bimanual needs its simulator, which is not "
                                       "installed (No module named 'mujoco')\n")
    assert main(["tasks"]) == 0
    assert "bimanual: (its simulator is not installed: No module named 'mujoco')" in \
        capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("preset", [None, "ACTIVE"])
def test_cli_sets_passive_openmp_waiting_before_torch_unless_the_user_chose(preset):
    """Idle OpenMP workers sleep (OMP_WAIT_POLICY=PASSIVE) in the meharl command, and the setting is in place
    before torch (which loads libgomp) is imported; a user's own setting is kept."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if preset:
        env["OMP_WAIT_POLICY"] = preset
    code = ("import sys, os, meharl.cli; assert 'torch' not in sys.modules; "
            "print(os.environ['OMP_WAIT_POLICY'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (preset or "PASSIVE")
