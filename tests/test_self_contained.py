"""The repository stands alone: no tracked file names a document outside it (the developers' background notes,
which users who clone the repository do not have), and every ``docs/`` page a tracked file names exists."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# built by concatenation so that this file does not name them itself
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "shared/" + "paper", "HASAC_" + "SETTINGS", "LAG_" + "SPEC",
                               "SIMULATORS" + r"\.md", r"(?<![\w/])" + "SPEC" + r"\.md"]))
DOCS_PAGE = re.compile(r"\bdocs/[\w/.-]*?\.md\b")


def tracked_text_files():
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True, capture_output=True,
                             text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    for name in filter(None, out.split("\0")):
        path = ROOT / name
        if path.is_file():
            try:
                yield name, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def test_no_tracked_file_names_a_document_outside_the_repository():
    found = [f"{name}:{k}: {line.strip()[:120]}" for name, text in tracked_text_files()
             for k, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]
    assert not found, "documents outside the repository named in:\n" + "\n".join(found)


def test_the_docs_pages_that_files_name_exist():
    missing = sorted({f"{name}: {page}" for name, text in tracked_text_files()
                      for page in DOCS_PAGE.findall(text) if not (ROOT / page).is_file()})
    assert not missing, "missing docs pages:\n" + "\n".join(missing)
    assert (ROOT / "docs" / "settings.md").is_file()
