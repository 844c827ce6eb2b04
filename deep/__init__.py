"""meharl's deep half: HASAC and baselines with neural approximators (PyTorch), on batched environments."""
