"""The proofs checks: the quick set holds on the engine, every broken variant is caught, and the harness
itself reports failures (a claim that is violated, or a broken variant that slips through, fails the run)."""
import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import proofs_check
from meharl.cli import main
from proofs_check import registry
from proofs_check.policy_iteration import _evaluation_measure
from proofs_check.registry import PAPER, Finding, run_claim
from proofs_check.report import format_table, to_json
from tabular import JointPolicy, MarkovGame
from tabular._math import boltzmann

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_results():
    return proofs_check.run_all(quick=True)


def test_every_claim_of_the_issue_is_registered():
    keys = set(proofs_check.CLAIMS)
    assert {"theorem-1", "lemma-A.1", "proposition-1", "appendix-B", "appendix-C", "lemma-4.1", "lemma-4.2",
            "theorem-2", "theorem-3-improvement", "theorem-3-qre", "lemma-A.2", "lemma-G.1", "lemma-G.2"} <= keys
    assert all(c.broken for c in proofs_check.CLAIMS.values())


def test_quick_set_holds_and_catches_every_broken_variant(quick_results):
    failed = [(r.key, r.reason) for r in quick_results if not r.passed]
    assert not failed
    for r in quick_results:
        assert r.paper.cases >= 1 and r.paper.worst <= r.tolerance, r.key
        for b in r.broken:
            assert b.error is None and b.worst > r.tolerance, (r.key, b.variant)


def test_exact_claims_are_exact(quick_results):
    by_key = {r.key: r for r in quick_results}
    for key in ("theorem-1", "lemma-A.1", "proposition-1"):
        assert by_key[key].paper.worst == 0.0  # sympy reduced every residual to exactly zero
    assert "V = -41/5" in by_key["appendix-B"].paper.note
    assert "['16/5', '-29/5', '-19/5']" in by_key["appendix-B"].paper.note


def test_mehaml_claims_cover_every_instance(quick_results):
    by_key = {r.key: r for r in quick_results}
    assert "9 instances, 0 with a violation" in by_key["theorem-3-improvement"].paper.note
    assert "9 instances, 9 with a violation" in by_key["theorem-3-improvement"].broken[0].note


def test_same_seed_same_result():
    c = proofs_check.CLAIMS["lemma-4.2"]
    a, b = run_claim(c, quick=True), run_claim(c, quick=True)
    assert (a.paper.cases, a.paper.worst, a.paper.note) == (b.paper.cases, b.paper.worst, b.paper.note)
    assert [x.worst for x in a.broken] == [x.worst for x in b.broken]


def _fake_claim(paper_worst, broken_worst, raises=False):
    def check(variant, quick):
        if raises and variant == PAPER:
            raise RuntimeError("boom")
        return Finding(3, paper_worst if variant == PAPER else broken_worst, "fake")
    return registry.Claim("fake", "fake claim", "none", "numeric", 1e-9, check, (("broken", "a break"),))


@pytest.mark.parametrize("paper_worst, broken_worst, raises, passed", [
    (0.0, 1.0, False, True),
    (1e-3, 1.0, False, False),          # the claim is violated
    (0.0, 0.0, False, False),           # the broken variant slips through: the check is useless
    (float("nan"), 1.0, False, False),  # NaN never counts as holding
    (0.0, 1.0, True, False),            # a crashing checker is a failure, reported with its message
])
def test_harness_fails_what_must_fail(paper_worst, broken_worst, raises, passed):
    res = run_claim(_fake_claim(paper_worst, broken_worst, raises))
    assert res.passed is passed
    if raises:
        assert "RuntimeError: boom" in res.reason
    text = format_table([res])
    assert ("PASS" if passed else "FAIL") in text


def test_cli_quick_json_and_exit_status(capsys, monkeypatch):
    assert main(["prove", "--quick", "--json", "--claim", "appendix-B", "theorem-1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] is True and [c["key"] for c in out["claims"]] == ["theorem-1", "appendix-B"]
    # a failing claim makes the exit status 1
    monkeypatch.setitem(registry.CLAIMS, "fake", _fake_claim(1.0, 1.0))
    assert main(["prove", "--quick", "--claim", "fake"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_rejects_unknown_claim(capsys):
    assert main(["prove", "--claim", "no-such-claim"]) == 2
    assert "no claim matches" in capsys.readouterr().err


def test_json_encodes_infinite_violations():
    res = run_claim(_fake_claim(math.inf, 1.0))
    assert json.loads(to_json([res]))["claims"][0]["paper"]["worst"] == "inf"


def test_a_broken_engine_is_caught(monkeypatch):
    """Break the engine itself (not the checker): HASPI's Boltzmann step at twice the temperature converges to
    the QRE of 2 alpha, so Theorem 2 (QRE gap at alpha) must fail."""
    haspi_module = importlib.import_module("tabular.haspi")  # ``tabular.haspi`` is also the function's name
    monkeypatch.setattr(haspi_module, "boltzmann", lambda q, alpha: boltzmann(q, 2 * alpha))
    res = run_claim(proofs_check.CLAIMS["theorem-2"], quick=True)
    assert not res.passed and res.paper.worst > res.tolerance


def test_a_broken_engine_fails_appendix_b(monkeypatch):
    """An engine whose V ignores the policy (plain mean payoff) no longer reproduces Appendix B."""
    paper = importlib.import_module("tabular.paper")
    real = paper.soft_evaluate

    def mean_value(game, policy, alpha):
        ev = real(game, policy, alpha)
        return type(ev)(V=np.full_like(ev.V, game.r.mean()), Q=ev.Q, J=float(game.r.mean()), alpha=ev.alpha,
                        method=ev.method, nit=ev.nit, residual=ev.residual)

    monkeypatch.setattr(paper, "soft_evaluate", mean_value)
    assert not run_claim(proofs_check.CLAIMS["appendix-B"], quick=True).passed


def _prove(*argv) -> tuple[int, dict]:
    """Run ``python -m <argv> --json`` in a fresh interpreter; exit status and the parsed JSON."""
    proc = subprocess.run([sys.executable, "-m", *argv, "--json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _seen(claim: dict) -> dict:
    """What a claim's run saw, without its timings: the cases, worst values and notes of every variant."""
    return {v["variant"]: (v["cases"], v["worst"], v["note"], v["error"]) for v in [claim["paper"], *claim["broken"]]}


def test_same_cases_from_either_entry_point():
    """The cases drawn do not depend on the entry point (``meharl prove`` imports the whole CLI; issue 9)."""
    rc_cli, cli = _prove("meharl", "prove", "--claim", "lemma-4.1")
    rc_mod, mod = _prove("proofs_check", "--claim", "lemma-4.1")
    assert rc_cli == rc_mod == 0 and cli["passed"] and mod["passed"]
    assert _seen(cli["claims"][0]) == _seen(mod["claims"][0])


def test_a_claim_after_another_equals_the_claim_alone():
    """Run alone in a fresh interpreter, or here after another claim, with this process's modules imported and
    conftest's hypothesis profile loaded: the same cases."""
    _, alone = _prove("proofs_check", "--quick", "--claim", "lemma-4.2")
    after = json.loads(to_json([run_claim(proofs_check.CLAIMS[k], quick=True) for k in ("lemma-4.1", "lemma-4.2")]))
    assert _seen(after["claims"][1]) == _seen(alone["claims"][0])


def test_rounding_alone_is_no_contraction_failure():
    """The case of issue 9: a one-state game (gamma 0.845) and two Q tables 1e-15 apart, whose backups differ by
    rounding only, so that the plain ratio of the two distances exceeds gamma.  That must not count as a
    violation, while the broken variants stay caught by a wide margin on tables far apart."""
    rng = np.random.default_rng(0)
    counts = (3, 3, 3)
    game = MarkovGame(np.ones((27, 1)), rng.uniform(-1, 1, (1, *counts)), 0.845)
    pi = JointPolicy([rng.dirichlet(np.ones(3), size=1) for _ in counts])
    Q1 = rng.uniform(-5, 5, (1, *counts))
    Q2 = Q1 + 1e-15
    backup = proofs_check.policy_iteration.soft_backup
    naive_ratio = np.max(np.abs(backup(game, pi, 2.0, Q1) - backup(game, pi, 2.0, Q2))) / np.max(np.abs(Q1 - Q2))
    assert naive_ratio > 1.5 * game.gamma  # rounding dominates: the case the claim used to fail on
    tolerance = proofs_check.CLAIMS["lemma-4.1"].tolerance
    assert _evaluation_measure(PAPER)((game, pi, 2.0, Q1, Q2))[0] <= tolerance
    far = Q1 + rng.uniform(-3, 3, Q1.shape)
    for variant, _ in proofs_check.CLAIMS["lemma-4.1"].broken:
        assert _evaluation_measure(variant)((game, pi, 2.0, Q1, far))[0] > 1e6 * tolerance


@pytest.mark.slow
def test_full_claim_table_passes():
    """The whole table (not only ``--quick``), once, from the ``meharl`` entry point (about 2 minutes)."""
    rc, out = _prove("meharl", "prove")
    failed = [(c["key"], c["reason"]) for c in out["claims"] if not c["passed"]]
    assert rc == 0 and out["passed"] and not failed, failed
    assert [c["key"] for c in out["claims"]] == list(proofs_check.CLAIMS)
