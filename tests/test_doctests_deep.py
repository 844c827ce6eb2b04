"""The examples in the docstrings of deep's entry points run and print what they show."""
import doctest
import importlib

import pytest

MODULES = ["deep.config", "deep.configure", "deep.run"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"


def test_the_entry_points_have_examples():
    finder = doctest.DocTestFinder()
    for name, func in (("deep.configure", "resolve"), ("deep.run", "start"), ("deep.run", "resume")):
        (test,) = finder.find(getattr(importlib.import_module(name), func))
        assert test.examples, f"{name}.{func} has no example"
