"""meharl's exact engine for finite cooperative Markov games (MaxEnt MARL, Liu et al., ICLR 2024).

The examples in the docstrings assume ``import numpy as np`` and ``import tabular as T``; they run as doctests
(tests/test_doctests.py).
"""
from .best_response import best_response_gains, qre_gap, soft_best_response
from .evaluation import SoftEvaluation, multiagent_advantage, multiagent_q, soft_evaluate
from .games import (GameError, MarkovGame, MatrixGame, NormalFormGame, as_normal_form, load_game,
                    random_markov_game)
from .haspi import HASPIResult, haspi, sequential_update
from .mehaml import (KLBall, KLDrift, L2Drift, MEHAMLResult, Simplex, TVBall, ZeroDrift, mehaml, mehaml_update,
                     mirror_objective, mirror_step, mirror_steps)
from .nfg import read_nfg, write_nfg
from .policy import JointPolicy
from .qre import QRERecord, QREResult, enumerate_qre, logit_qre, qre_branch
from .qre_path import BranchEvent, QREBranch
from .standard import StandardResult, happo_update, mappo_update, standard_dynamics

__all__ = [
    "GameError", "MarkovGame", "MatrixGame", "NormalFormGame", "JointPolicy", "SoftEvaluation", "HASPIResult",
    "as_normal_form", "load_game", "random_markov_game", "read_nfg", "write_nfg",
    "soft_evaluate", "multiagent_q", "multiagent_advantage", "sequential_update", "haspi",
    "qre_gap", "best_response_gains", "soft_best_response",
    "ZeroDrift", "KLDrift", "L2Drift", "Simplex", "KLBall", "TVBall", "MEHAMLResult", "mehaml", "mehaml_update",
    "mirror_step", "mirror_steps", "mirror_objective", "StandardResult", "mappo_update", "happo_update", "standard_dynamics",
    "logit_qre", "qre_branch", "enumerate_qre", "QREResult", "QREBranch", "QRERecord", "BranchEvent",
]
