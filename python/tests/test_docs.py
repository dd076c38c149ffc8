"""The ```python examples of docs/python.md run as printed (against the virtual device)."""
import os
import re

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "python.md")


def blocks():
    with open(DOC) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def test_the_page_has_examples():
    assert len(blocks()) >= 3


@pytest.mark.parametrize("index", range(len(blocks())))
def test_example_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks()[index], f"docs/python.md block {index}", "exec"), {})
    import ucrypto.pycom

    ucrypto.pycom.use_port(None)
    out = capsys.readouterr().out
    if "print(original)" in blocks()[index]:
        assert out.strip() == "b'Attack at dawn'"
