"""Networks: MLP bodies, action heads (actors) and critics."""
