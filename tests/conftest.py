import os

# Tests are run on 2 cores, often two pytest workers at once: keep every numeric library single-threaded.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from hypothesis import HealthCheck, settings  # noqa: E402

from deep.run.video import use_headless_gl  # noqa: E402

use_headless_gl()  # MuJoCo renders without a display (OSMesa) in the rendering tests

# Derandomised so the suite is reproducible; deadline off because CI machines vary in speed.
settings.register_profile("meharl", derandomize=True, deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("meharl")
