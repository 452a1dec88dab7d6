"""Equivalences the ingest's fast paths rely on, checked against the slow definitions."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawtrace.store._ingest import _B64_RUN, _HEX_RUN, _encoded_runs, _Redactor

_ALPHABET = "AZaz09+/_-=\u00e9 \n\x00:" + "0123456789abcdef" * 3


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=200))
def test_encoded_runs_are_the_regex_matches(text: str) -> None:
    b64 = [m.span() for m in _B64_RUN.finditer(text)]
    hexes = [m.span() for m in _HEX_RUN.finditer(text)]
    assert sorted(_encoded_runs(text)) == sorted(b64 + hexes)


def test_encoded_runs_on_real_encodings() -> None:
    secret = "OPENAI_API_KEY=sk-proj-" + "Ab1" * 16
    b64 = base64.b64encode(secret.encode()).decode()
    hx = secret.encode().hex()
    text = f"body={b64}&x=1 and hex {hx} end"
    runs = _encoded_runs(text)
    # The hex run is a base64-class run too: found once as each, as the two regexes do.
    assert [text[s:e] for s, e in runs] == [b64, hx, hx]


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.sampled_from(["plain words", "AKIA" + "Q" * 16, "x", "", "pw=" + "K" * 30]), max_size=8))
def test_dirty_flags_exactly_the_texts_known_would_change(words: list[str]) -> None:
    secret = "sk-proj-" + "Zz9" * 16
    red = _Redactor()
    red.learn_many([f"OPENAI_API_KEY={secret}"])
    pool = [*words, secret, base64.b64encode(f"key={secret}".encode()).decode(), "nothing"]
    texts = [a + " " + b for a in pool for b in pool[:3]]
    flags = red.dirty(texts)
    for t, f in zip(texts, flags):
        assert f == (red._known(t, []) != t), t


def test_gc_pause_nests_and_restores_the_collector() -> None:
    import gc

    from clawtrace import _gc

    assert gc.isenabled()
    with _gc.paused():
        assert not gc.isenabled()
        with _gc.paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "an inner pause must not re-enable inside the outer one"
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with _gc.paused():
            raise RuntimeError("boom")
    assert gc.isenabled(), "an exception must not leave the collector off"
    gc.disable()
    try:
        with _gc.paused():
            pass
        assert not gc.isenabled(), "a collector the caller disabled stays disabled"
    finally:
        gc.enable()


def test_openclaw_import_leaves_the_collector_as_it_was(tmp_path: Path) -> None:
    import gc

    from clawtrace.ingest.openclaw import import_openclaw

    seen: list[bool] = []
    t = tmp_path / "s.jsonl"
    t.write_text(
        '{"type":"session","version":3,"id":"s1","timestamp":"2026-01-01T00:00:00Z","cwd":"/w"}\n'
        '{"type":"message","id":"e1","parentId":null,"timestamp":"2026-01-01T00:00:01Z",'
        '"message":{"role":"user","content":"hello","timestamp":1767225601000}}\n'
    )
    import_openclaw(t, lambda b: seen.append(gc.isenabled()))
    assert seen == [False]
    assert gc.isenabled()


_SHELL_ALPHABET = st.sampled_from(
    list("abcxyz019-_./:@=$*?~%+,#!{}[]^")
    + [" ", "  ", "\t", "\n", "\r", ";", "&", "|", "<", ">", "(", ")"]
    + ["&&", "||", ">>", "2>&1", "é", "\u00a0", "\x0b", "\x0c", "ſ"]
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_SHELL_ALPHABET, max_size=40).map("".join))
def test_plain_command_tokens_equal_shlex(command: str) -> None:
    """The regex tokenizer used for commands without quotes or backslashes gives shlex's tokens."""
    import shlex

    from clawtrace.ingest.openclaw._shell import _tokens

    lex = shlex.shlex(command, posix=True, punctuation_chars=";&|<>()")
    lex.whitespace_split = True
    lex.commenters = ""
    assert _tokens(command) == list(lex)
