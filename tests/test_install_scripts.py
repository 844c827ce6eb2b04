"""The install scripts' command lines (their installs run in CI: .ci/run, scripts/check_fresh_venv.sh)."""
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_install_football_refuses_an_unknown_argument_before_doing_anything():
    out = subprocess.run(["bash", str(ROOT / "scripts" / "install_football.sh"), "--metadata"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == "install_football.sh: unknown argument --metadata (valid: --metadata-only)\n"
