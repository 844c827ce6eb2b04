"""Algorithms, one module each, registered by name (:mod:`.base`); importing the package registers them all."""
from .base import ALGOS, Acted, Algorithm, _discover, algo_class, algo_names, check_supported, make_algo, register

_discover()

__all__ = ["ALGOS", "Acted", "Algorithm", "algo_class", "algo_names", "check_supported", "make_algo", "register"]
