"""meharl: maximum-entropy heterogeneous-agent RL, exact (``tabular``) and deep (``deep``)."""
__version__ = "0.1.0"
