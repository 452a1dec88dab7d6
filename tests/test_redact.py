"""Secret detection and redaction: a corpus of fake secrets, idempotency, false positives."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawtrace import redact as rd
from clawtrace.redact import (
    PLACEHOLDER_RE,
    SecretHit,
    placeholder,
    redact,
    redact_many,
    redact_obj,
    scan,
    scan_many,
    secret_uri,
)
from tests.secrets_corpus import fake_secrets

CORPUS = fake_secrets()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 30
    assert len({t for t, _, _ in CORPUS}) >= 14


@pytest.mark.parametrize(
    ("type_", "secret", "template"), CORPUS, ids=[f"{i}-{t}" for i, (t, _, _) in enumerate(CORPUS)]
)
def test_each_fake_secret_is_redacted(type_: str, secret: str, template: str) -> None:
    text = template.replace("{secret}", secret)
    out, hits = redact(text)
    assert secret not in out
    expected = f"[REDACTED:{type_}:{_digest(secret)}]"
    assert expected in out, (out, [(h.type, text[h.start : h.end]) for h in hits])
    hit = next(h for h in hits if h.placeholder == expected)
    assert text[hit.start : hit.end] == secret
    assert hit.digest == _digest(secret)
    assert secret_uri(hit) == f"secret://{type_}/{_digest(secret)}"
    # The context around the secret survives.
    prefix = template.split("{secret}", 1)[0]
    assert out.startswith(prefix)
    # Idempotent, and nothing is left for a second pass to find.
    assert redact(out)[0] == out
    assert scan(out) == []


def test_hits_are_sorted_non_overlapping_and_spans_match() -> None:
    text = "\n".join(t.replace("{secret}", s) for t, s, _ in [(c, s, t) for t, s, c in CORPUS])
    hits = scan(text)
    assert len(hits) >= len(CORPUS) - 2  # a JWT or bearer token repeated is still one hit per place
    for a, b in zip(hits, hits[1:]):
        assert a.end <= b.start
    for h in hits:
        assert h.placeholder == placeholder(h.type, text[h.start : h.end])
    out, _ = redact(text)
    for _, secret, _ in CORPUS:
        assert secret not in out


def test_anthropic_wins_over_openai_and_jwt_over_bearer() -> None:
    anth = next(s for t, s, _ in CORPUS if t == "anthropic_key")
    jwt = next(s for t, s, _ in CORPUS if t == "jwt")
    hits = scan(f"ANTHROPIC_API_KEY={anth}\nAuthorization: Bearer {jwt}")
    assert [h.type for h in hits] == ["anthropic_key", "jwt"]


def test_bearer_and_url_password_redact_only_the_secret() -> None:
    out, _ = redact("curl -H 'Authorization: Bearer Zx81kLmQ02pRsT7uVw3y' https://admin:S3cretPass99@example.com/x")
    assert out.startswith("curl -H 'Authorization: Bearer [REDACTED:bearer_token:")
    assert "https://admin:[REDACTED:url_password:" in out
    assert out.endswith("]@example.com/x")


def test_placeholder_format_and_regex() -> None:
    ph = placeholder("github_token", "x")
    assert ph == f"[REDACTED:github_token:{_digest('x')}]"
    assert PLACEHOLDER_RE.fullmatch(ph)
    text = f"password={ph} and token: {ph}"
    assert redact(text) == (text, [])


def test_redact_obj_walks_json_values() -> None:
    gh = next(s for t, s, _ in CORPUS if t == "github_token")
    obj = {
        "tool": "exec",
        "args": {"command": f"GH_TOKEN={gh} gh repo list", "env": ["A=1", f"T={gh}"]},
        "password": "correct-horse-battery",
        "n": 3,
        "pair": ("ok", f"{gh}"),
    }
    red, hits = redact_obj(obj)
    dumped = json.dumps(red)
    assert gh not in dumped and "correct-horse-battery" not in dumped
    assert red["n"] == 3 and red["tool"] == "exec" and red["args"]["env"][0] == "A=1"
    assert isinstance(red["pair"], tuple)
    assert red["password"] == placeholder("assignment_secret", "correct-horse-battery")
    assert sorted(h.type for h in hits) == ["assignment_secret", "github_token", "github_token", "github_token"]
    assert redact_obj(red)[0] == red
    assert all(isinstance(h, SecretHit) for h in hits)


BENIGN = [
    # Code.
    "def connect(host: str, port: int = 5432) -> Connection:\n    return psycopg.connect(host=host, port=port)\n",
    "password = get_password()\ntoken = request.headers.get('X-Token')\nself.secret = secret\n",
    "max_tokens=1024\nnum_tokens = len(tokenizer(text))\nauthor = 'Ada Lovelace'\n",
    "if (a + b) * c == d: x = {'key': value for key, value in items}\n",
    'password: ${DB_PASSWORD}\napi_key: <your-api-key>\ntoken: ""\nsecret: changeme\nAUTH_TOKEN=***\n',
    # Hashes and ids.
    "commit 3f2a1b4c5d6e7f8090a1b2c3d4e5f60718293a4b\nMerge: 1a2b3c4 5d6e7f8\n",
    "sha256 = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
    f"request_id={uuid.UUID(int=0x12345678123456781234567812345678)} trace={uuid.UUID(int=7)}\n",
    'ETag: "33a64df551425fcc55e4d42a148795d9f25f89d4"\n',
    # Base64 of a PNG header, standalone.
    base64.b64encode(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00"
    ).decode(),
    # Paths and URLs without credentials.
    "/home/ada/.config/openclaw/agents/main/sessions/2024-06-11T10-00-00.jsonl\n",
    "https://github.com/acme/app/blob/main/src/auth/token_store.py#L10\n",
    "git@github.com:acme/app.git and ssh://git@example.com:2222/repo.git\n",
    # Prose that talks about secrets.
    "Rotate the API key every 90 days; never paste a password or a bearer token into a chat. "
    "The secret store is described in the design doc, section 5.\n",
    "Use `Authorization: Bearer <token>` with your personal access token.\n",
    "The risk-management-framework-for-enterprise-teams is documented elsewhere.\n",
]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_text_is_not_redacted(text: str) -> None:
    out, hits = redact(text)
    assert hits == [], [(h.type, text[h.start : h.end]) for h in hits]
    assert out == text


def test_empty_and_non_string_inputs() -> None:
    assert redact("") == ("", [])
    assert redact_obj(None) == (None, [])
    assert redact_obj([1, 2.5, b"bytes"]) == ([1, 2.5, b"bytes"], [])


# ---------------------------------------------------------------- scan_many == scan


def _pieces() -> list[str]:
    out = [tpl.replace("{secret}", secret) for _, secret, tpl in fake_secrets()]
    out += [
        "password = get_password()",
        "token=token",
        "K\u212aY password: 'Sup3rS3cretValue!'",  # KELVIN SIGN: lower case is ASCII
        "[REDACTED:openai_key:0123456789ab] and sk-proj-" + "A1b2" * 6,
        "plain prose about the budget meeting, nothing to see",
        'caf\u00e9 secret="h\u00e9llo-w0rld-value"',
        "",
        "a\x00b password=NulSeparated123",
        "https://user:pa55word@example.com/x",
        "=" * 30,
    ]
    return out


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_pieces()), st.text(max_size=40), st.sampled_from(_pieces())), max_size=12))
def test_scan_many_equals_scan_on_each(parts: list[tuple[str, str, str]]) -> None:
    texts = [a + mid + b for a, mid, b in parts]
    assert scan_many(texts) == [scan(t) for t in texts]
    assert redact_many(texts) == [redact(t) for t in texts]


def test_scan_many_on_the_whole_corpus_finds_every_secret() -> None:
    texts = _pieces()
    many = scan_many(texts)
    assert many == [scan(t) for t in texts]
    assert sum(len(h) for h in many) >= len(fake_secrets())


_ROOTS = [r.decode() for r in rd._PREFIX_ROOTS + rd._KEYWORD_ROOTS]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_ROOTS), st.sampled_from(["s", "k", "-", "g", "h", "to", "x", " ", "é"])), max_size=60
    )
)
def test_one_pass_root_search_finds_every_occurrence(parts: list[str]) -> None:
    # The Aho-Corasick pass finds what a bytes.find per root finds: every offset, overlaps
    # included ("gh" inside "github_pat_", "sk-" at "sk-ant-"), on either haystack.
    text = "".join(parts).encode("utf-8")
    for haystack in (text, text.lower()):
        cache: dict[bytes, list[int]] = {}
        for root in rd._PREFIX_ROOTS + rd._KEYWORD_ROOTS:
            expected = [i for i in range(len(haystack)) if haystack.startswith(root, i)]
            assert rd._find_all(haystack, root, cache) == expected, root
