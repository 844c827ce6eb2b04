"""meharl's exact engine for finite cooperative Markov games (MaxEnt MARL, Liu et al., ICLR 2024)."""
from .best_response import best_response_gains, qre_gap, soft_best_response
from .evaluation import SoftEvaluation, multiagent_advantage, multiagent_q, soft_evaluate
from .games import (GameError, MarkovGame, MatrixGame, NormalFormGame, as_normal_form, load_game,
                    random_markov_game)
from .haspi import HASPIResult, haspi, sequential_update
from .nfg import read_nfg, write_nfg
from .policy import JointPolicy

__all__ = [
    "GameError", "MarkovGame", "MatrixGame", "NormalFormGame", "JointPolicy", "SoftEvaluation", "HASPIResult",
    "as_normal_form", "load_game", "random_markov_game", "read_nfg", "write_nfg",
    "soft_evaluate", "multiagent_q", "multiagent_advantage", "sequential_update", "haspi",
    "qre_gap", "best_response_gains", "soft_best_response",
]
