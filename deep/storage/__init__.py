"""Experience storage: the off-policy n-step replay buffer (and on-policy rollouts)."""
