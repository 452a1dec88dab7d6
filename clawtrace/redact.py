"""Secret detection and redaction (DESIGN.md section 5).

Every secret is replaced by ``[REDACTED:<type>:<first 12 hex of sha256(secret)>]``, so the
store never holds it but an investigator can still see where the same secret went.

Detectors are compiled regexes, each gated by a cheap substring test, so text without any
candidate costs a few ``in`` scans. Where spans overlap, the more specific detector wins
(a key's own format over ``bearer_token`` over ``assignment_secret`` over ``high_entropy``).
Text that is already a placeholder is never redacted again: ``redact`` is idempotent.

``assignment_secret`` skips values that are clearly not secrets: empty, masks (``***``,
``xxxx``), ``<...>``/``{{...}}``/``${...}``/``$VAR`` references, ``changeme``/``none``/
``null``/``true``/``false``/``redacted``/``example``-like words, pure numbers, values of
fewer than 4 characters, values that repeat the key's own keyword (``token=token``), and,
after a spaced ``=`` (code, not an env file), unquoted identifiers and calls
(``password = get_password()``). Keys with ``tokens``/``tokenizer``/``author``/
``secretary`` do not count as secret-named.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

__all__ = ["SecretHit", "scan", "redact", "redact_obj", "placeholder", "secret_uri", "PLACEHOLDER_RE"]

_DIGEST_LEN: Final = 12

PLACEHOLDER_RE: Final[re.Pattern[str]] = re.compile(r"\[REDACTED:[a-z0-9_]+:[0-9a-f]{12}\]")
"""Matches a redaction placeholder; text inside one is never redacted again."""


@dataclasses.dataclass(frozen=True, slots=True)
class SecretHit:
    """One secret found in a text: its type, digest, placeholder and ``[start, end)`` span."""

    type: str
    digest: str
    placeholder: str
    start: int
    end: int


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_LEN]


def placeholder(type: str, value: str) -> str:  # noqa: A002 - the public name the spec uses
    """The placeholder that replaces secret ``value`` of kind ``type``."""
    return f"[REDACTED:{type}:{_digest(value)}]"


def secret_uri(hit: SecretHit) -> str:
    """The artifact URI of a secret, ``secret://<type>/<digest>``."""
    return f"secret://{hit.type}/{hit.digest}"


# --------------------------------------------------------------------------- detectors


def _entropy(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _mixed(value: str) -> bool:
    return any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)


def _has_digit(value: str) -> bool:
    return any(c.isdigit() for c in value)


_HEXISH: Final = re.compile(r"[0-9a-f]+|[0-9A-F]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _high_entropy(value: str) -> bool:
    """At least 20 characters, upper + lower + digits, >= 3.5 bits/char, not hex or a UUID."""
    v = value.strip("=")
    return len(v) >= 20 and _mixed(v) and not _HEXISH.fullmatch(v) and _entropy(v) >= 3.5


_PLACEHOLDER_WORDS: Final = re.compile(
    r"(?i)(?:[*x.#-]+|<[^>]*>|\{\{.*\}\}|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|%\([a-z_]+\)s|"
    r"changeme|change_me|none|null|nil|true|false|redacted|example|dummy|placeholder|secret|password|"
    r"your[_-].*|.*[_-]here|\d+|\[REDACTED:.*)"
)
_CODE_VALUE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(.*|\[.*)?")


@dataclasses.dataclass(frozen=True, slots=True)
class _Detector:
    type: str
    priority: int
    """Lower wins when spans overlap."""
    pattern: re.Pattern[str]
    group: int | str
    """The regex group holding the secret (0 = the whole match)."""
    gates: tuple[str, ...]
    """The detector runs only if one of these occurs in the text (case-sensitive)."""
    check: Callable[[re.Match[str]], bool] | None = None
    keywords: tuple[str, ...] = ()
    """If set, the pattern is only tried (``match``) where one of these lower-case words starts."""


def _boundary(m: re.Match[str]) -> bool:
    """The match does not continue a word on its left (a lookbehind would defeat prefix search)."""
    i = m.start()
    return i == 0 or not (m.string[i - 1].isalnum() or m.string[i - 1] in "_-")


def _assignment_ok(m: re.Match[str]) -> bool:
    value = m.group("value")
    if m.group("sep").endswith(":") and not m.group("q"):
        return False  # "secret://...", "auth:bearer": a URL or a label, not a "key: value"
    if len(value) < 4 or _PLACEHOLDER_WORDS.fullmatch(value):
        return False
    key = m.group("key").lower()
    kw = m.group("kw").lower()
    if kw in value.lower() and len(value) <= len(key) + 2:
        return False
    spaced = m.group("sep").startswith((" ", "\t"))
    quoted = bool(m.group("q"))
    return not (spaced and not quoted and _CODE_VALUE.fullmatch(value))


_ASSIGN_KW: Final = (
    r"(?P<kw>password|passwd|passphrase|secret(?!ar)|token(?!s|iz)|api_?key|apikey|access_?key|"
    r"private_?key|credentials?|auth(?!or))"
)
_ASSIGNMENT: Final = re.compile(
    r"(?i)(?P<key>" + _ASSIGN_KW + r"[A-Za-z0-9_.-]*)[\"']?"
    r"(?P<sep>[ \t]*(?::=|=|:)[ \t]*)(?P<q>[\"']?)(?P<value>(?<=[\"'])[^\"'\n]+(?=[\"'])|[^\s\"',;]+)"
)

_ASSIGN_WORDS: Final = (
    "password", "passwd", "passphrase", "secret", "token", "api_key", "apikey", "api-key", "access_key",
    "accesskey", "access-key", "private_key", "privatekey", "private-key", "credential", "auth",
)  # fmt: skip

_DETECTORS: Final[tuple[_Detector, ...]] = (
    _Detector(
        "private_key",
        0,
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----"
            r"|[A-Za-z0-9+/=\s\\:,-]*)",
            re.S,
        ),
        0,
        ("PRIVATE KEY",),
    ),
    _Detector("jwt", 1, re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), 0, ("eyJ",)),
    _Detector("anthropic_key", 2, re.compile(r"sk-ant-[A-Za-z0-9]+-[A-Za-z0-9_-]{20,}"), 0, ("sk-ant-",), _boundary),
    _Detector(
        "openai_key",
        3,
        re.compile(r"sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
        0,
        ("sk-",),
        lambda m: _boundary(m) and _has_digit(m.group()),
    ),
    _Detector("github_token", 2, re.compile(r"gh[pousr]_[A-Za-z0-9]{36,255}"), 0, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), _boundary),
    _Detector("github_token", 2, re.compile(r"github_pat_[A-Za-z0-9_]{50,255}"), 0, ("github_pat_",), _boundary),
    _Detector("gitlab_token", 2, re.compile(r"glpat-[A-Za-z0-9_-]{20,}"), 0, ("glpat-",)),
    _Detector("slack_token", 2, re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}"), 0, ("xox",)),
    _Detector(
        "slack_token",
        2,
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9_/-]{20,}"),
        0,
        ("hooks.slack.com",),
    ),
    _Detector("stripe_key", 2, re.compile(r"sk_(?:live|test)_[A-Za-z0-9]{16,}"), 0, ("sk_live_", "sk_test_")),
    _Detector("stripe_key", 2, re.compile(r"rk_(?:live|test)_[A-Za-z0-9]{16,}"), 0, ("rk_live_", "rk_test_")),
    _Detector("google_api_key", 2, re.compile(r"AIza[0-9A-Za-z_-]{35}"), 0, ("AIza",)),
    _Detector("aws_access_key", 2, re.compile(r"AKIA[A-Z0-9]{16}(?![A-Z0-9])"), 0, ("AKIA",), _boundary),
    _Detector("aws_access_key", 2, re.compile(r"ASIA[A-Z0-9]{16}(?![A-Z0-9])"), 0, ("ASIA",), _boundary),
    _Detector(
        "aws_secret_key",
        2,
        re.compile(
            r"(?i)aws_?secret_?(?:access_?)?key[\"']?[ \t]*(?::=|=|:)[ \t]*[\"']?(?P<v>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        "v",
        ("ecret", "ECRET"),
        None,
        ("aws",),
    ),
    _Detector(
        "url_password",
        4,
        re.compile(r"://[^\s:/@\"'<>]*:(?P<v>[^\s@/\"'<>]+)@[A-Za-z0-9.\[\]-]"),
        "v",
        ("://",),
        lambda m: not PLACEHOLDER_RE.fullmatch(m.group("v")) and m.group("v") not in ("", "*", "***"),
    ),
    _Detector(
        "bearer_token",
        5,
        re.compile(r"(?i)bearer[ \t]+(?P<v>[A-Za-z0-9._~+/=-]{8,})"),
        "v",
        ("earer", "EARER"),
        lambda m: _boundary(m) and _has_digit(m.group("v")) and not _PLACEHOLDER_WORDS.fullmatch(m.group("v")),
        ("bearer",),
    ),
    _Detector("assignment_secret", 6, _ASSIGNMENT, "value", ("=", ":"), _assignment_ok, _ASSIGN_WORDS),
    _Detector(
        "high_entropy",
        7,
        re.compile(r"=[ \t]*[\"']?(?P<v>[A-Za-z0-9+/_~.-]{20,}={0,2})(?![A-Za-z0-9+/_~.=-])"),
        "v",
        ("=",),
        lambda m: _high_entropy(m.group("v")),
    ),
)


def _keyword_matches(det: _Detector, text: str, lower: str) -> list[re.Match[str]]:
    """Matches of ``det`` anchored where one of its keywords starts.

    ``str.find`` on the lower-cased text skips far faster than a case-insensitive regex
    search; when lower-casing changed the length (rare non-ASCII), the regex searches.
    """
    if len(lower) != len(text):
        return list(det.pattern.finditer(text))
    out: list[re.Match[str]] = []
    for word in det.keywords:
        i = lower.find(word)
        while i >= 0:
            m = det.pattern.match(text, i)
            if m is not None:
                out.append(m)
            i = lower.find(word, i + 1)
    return out


# --------------------------------------------------------------------------- public


def scan(text: str) -> list[SecretHit]:
    """Every secret in ``text``: non-overlapping, sorted by start."""
    blocked: list[tuple[int, int]] = []
    if "[REDACTED:" in text:
        blocked = [m.span() for m in PLACEHOLDER_RE.finditer(text)]
    found: list[tuple[int, int, int, str]] = []  # (priority, start, end, type)
    lower: str | None = None
    for det in _DETECTORS:
        if not any(g in text for g in det.gates):
            continue
        if det.keywords:
            if lower is None:
                lower = text.lower()
            matches: Any = _keyword_matches(det, text, lower)
        else:
            matches = det.pattern.finditer(text)
        for m in matches:
            if det.check is not None and not det.check(m):
                continue
            start, end = m.span(det.group)
            if end > start:
                found.append((det.priority, start, end, det.type))
    if not found:
        return []
    found.sort()
    taken = list(blocked)
    hits: list[SecretHit] = []
    for _, start, end, type_ in found:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        value = text[start:end]
        digest = _digest(value)
        hits.append(SecretHit(type_, digest, f"[REDACTED:{type_}:{digest}]", start, end))
    hits.sort(key=lambda h: h.start)
    return hits


def redact(text: str) -> tuple[str, list[SecretHit]]:
    """``text`` with every secret replaced by its placeholder, and the hits (spans in ``text``)."""
    hits = scan(text)
    if not hits:
        return text, hits
    parts: list[str] = []
    pos = 0
    for h in hits:
        parts.append(text[pos : h.start])
        parts.append(h.placeholder)
        pos = h.end
    parts.append(text[pos:])
    return "".join(parts), hits


def redact_obj(obj: Any) -> tuple[Any, list[SecretHit]]:
    """Redact every string value inside dicts, lists and tuples (keys are kept as they are).

    A dict value under a secret-named key (``{"password": "hunter2"}``) is redacted whole as
    ``assignment_secret`` when no detector finds anything more specific in it. Other types
    are returned unchanged. Hit spans are relative to the string they were found in.
    """
    hits: list[SecretHit] = []

    def walk(o: Any, key: str | None) -> Any:
        if isinstance(o, str):
            if key is not None and _KEY_RE.search(key) and not PLACEHOLDER_RE.fullmatch(o):
                inner = scan(o)
                if not inner and len(o) >= 4 and not _PLACEHOLDER_WORDS.fullmatch(o):
                    ph = placeholder("assignment_secret", o)
                    hits.append(SecretHit("assignment_secret", _digest(o), ph, 0, len(o)))
                    return ph
            red, h = redact(o)
            hits.extend(h)
            return red
        if isinstance(o, dict):
            return {k: walk(v, k if isinstance(k, str) else None) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v, None) for v in o]
        if isinstance(o, tuple):
            return tuple(walk(v, None) for v in o)
        return o

    return walk(obj, None), hits


_KEY_RE: Final = re.compile(r"(?i)" + _ASSIGN_KW)
