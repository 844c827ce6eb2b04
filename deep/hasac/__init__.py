"""HASAC (Liu et al., ICLR 2024, Section 4.2 / eq. 9-10) for batched multi-agent environments."""
from .agent import HASAC, HASACParams
from .bridge import joint_policy, qre_gap
from .buffer import ReplayBuffer

__all__ = ["HASAC", "HASACParams", "ReplayBuffer", "joint_policy", "qre_gap"]
