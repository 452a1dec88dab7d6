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

import bisect
import dataclasses
import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final

import ahocorasick_rs

__all__ = [
    "PLACEHOLDER_RE",
    "SecretHit",
    "is_secret_key",
    "join_texts",
    "placeholder",
    "redact",
    "redact_many",
    "redact_obj",
    "scan",
    "scan_many",
    "secret_uri",
]

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


_HEXISH: Final = re.compile(
    r"[0-9a-f]+|[0-9A-F]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


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


_SHARED_ROOTS: Final = ("sk-", "gh")
"""Scan roots shared by several detectors' needles ("sk-ant-" and "sk-", "ghp_" and "github_pat_")."""


def _scan_plan(needles: tuple[str, ...]) -> tuple[tuple[bytes, tuple[bytes, ...]], ...]:
    """``(scan, needles)`` groups: one ``find`` pass for ``scan``, then ``startswith`` filters.

    Needles that share their first two characters are found with one pass over the text
    for their longest common prefix (a pass costs as much as the whole text, a filter only
    as much as the prefix's occurrences); so are needles that start with a shared root.
    """
    groups: dict[str, list[str]] = {}
    for n in needles:
        shared = next((r for r in _SHARED_ROOTS if n.startswith(r)), None)
        groups.setdefault(shared or n[:2], []).append(n)
    plan = []
    for key, group in groups.items():
        root = key if key in _SHARED_ROOTS else group[0]
        for n in group[1:]:
            while not n.startswith(root):
                root = root[:-1]
        plan.append((root.encode("ascii"), tuple(n.encode("ascii") for n in group)))
    return tuple(plan)


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
    prefixes: tuple[str, ...] = ()
    """If set, every match starts with one of these (case-sensitive): the pattern is tried
    only where one occurs, leftmost first and never inside the previous match, which is
    exactly what ``finditer`` yields, found by ``bytes.find`` instead of the regex scanner."""
    keyword_plan: tuple[tuple[bytes, tuple[bytes, ...]], ...] = dataclasses.field(init=False, repr=False, compare=False)
    prefix_plan: tuple[tuple[bytes, tuple[bytes, ...]], ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keyword_plan", _scan_plan(self.keywords))
        object.__setattr__(self, "prefix_plan", _scan_plan(self.prefixes))


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
        prefixes=("-----BEGIN ",),
    ),
    _Detector(
        "jwt",
        1,
        re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        0,
        ("eyJ",),
        prefixes=("eyJ",),
    ),
    _Detector(
        "anthropic_key",
        2,
        re.compile(r"sk-ant-[A-Za-z0-9]+-[A-Za-z0-9_-]{20,}"),
        0,
        ("sk-ant-",),
        _boundary,
        prefixes=("sk-ant-",),
    ),
    _Detector(
        "openai_key",
        3,
        re.compile(r"sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
        0,
        ("sk-",),
        lambda m: _boundary(m) and _has_digit(m.group()),
        prefixes=("sk-",),
    ),
    _Detector(
        "github_token",
        2,
        re.compile(r"gh[pousr]_[A-Za-z0-9]{36,255}"),
        0,
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        _boundary,
        prefixes=("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    _Detector(
        "github_token",
        2,
        re.compile(r"github_pat_[A-Za-z0-9_]{50,255}"),
        0,
        ("github_pat_",),
        _boundary,
        prefixes=("github_pat_",),
    ),
    _Detector("gitlab_token", 2, re.compile(r"glpat-[A-Za-z0-9_-]{20,}"), 0, ("glpat-",), prefixes=("glpat-",)),
    _Detector("slack_token", 2, re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}"), 0, ("xox",), prefixes=("xox",)),
    _Detector(
        "slack_token",
        2,
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9_/-]{20,}"),
        0,
        ("hooks.slack.com",),
        prefixes=("https://hooks.slack.com/",),
    ),
    _Detector(
        "stripe_key",
        2,
        re.compile(r"sk_(?:live|test)_[A-Za-z0-9]{16,}"),
        0,
        ("sk_live_", "sk_test_"),
        prefixes=("sk_live_", "sk_test_"),
    ),
    _Detector(
        "stripe_key",
        2,
        re.compile(r"rk_(?:live|test)_[A-Za-z0-9]{16,}"),
        0,
        ("rk_live_", "rk_test_"),
        prefixes=("rk_live_", "rk_test_"),
    ),
    _Detector("google_api_key", 2, re.compile(r"AIza[0-9A-Za-z_-]{35}"), 0, ("AIza",), prefixes=("AIza",)),
    _Detector(
        "aws_access_key", 2, re.compile(r"AKIA[A-Z0-9]{16}(?![A-Z0-9])"), 0, ("AKIA",), _boundary, prefixes=("AKIA",)
    ),
    _Detector(
        "aws_access_key", 2, re.compile(r"ASIA[A-Z0-9]{16}(?![A-Z0-9])"), 0, ("ASIA",), _boundary, prefixes=("ASIA",)
    ),
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
        prefixes=("://",),
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


_PREFIX_ROOTS: Final = tuple(sorted({root for d in _DETECTORS for root, _ in d.prefix_plan}))
_KEYWORD_ROOTS: Final = tuple(sorted({root for d in _DETECTORS for root, _ in d.keyword_plan}))
assert not set(_PREFIX_ROOTS) & set(_KEYWORD_ROOTS)


def _scanners() -> dict[bytes, tuple[tuple[bytes, ...], Any]]:
    """For each scan root, its set of roots and their Aho-Corasick automaton: one pass over a
    text finds every root of the set (``bytes.find`` per root cost a pass each, 60% of a scan)."""
    out: dict[bytes, tuple[tuple[bytes, ...], Any]] = {}
    for roots in (_PREFIX_ROOTS, _KEYWORD_ROOTS):
        automaton = ahocorasick_rs.BytesAhoCorasick(list(roots))
        out.update((root, (roots, automaton)) for root in roots)
    return out


_SCANNERS: Final = _scanners()


def _find_all(haystack: bytes, root: bytes, cache: dict[bytes, list[int]]) -> list[int]:
    """Every offset of ``root`` in ``haystack`` (overlaps included), ascending. The first call
    for a haystack finds all the roots of ``root``'s set in one pass into ``cache``."""
    found = cache.get(root)
    if found is None:
        roots, automaton = _SCANNERS[root]
        hits: dict[bytes, list[int]] = {r: [] for r in roots}
        for k, start, _ in automaton.find_matches_as_indexes(haystack, overlapping=True):
            hits[roots[k]].append(start)  # matches come by end offset: by start, per root
        cache.update(hits)
        found = hits[root]
    return found


def _occurrences(
    haystack: bytes, plan: tuple[tuple[bytes, tuple[bytes, ...]], ...], cache: dict[bytes, list[int]]
) -> list[int]:
    """Sorted offsets where one of the planned needles occurs in ``haystack``."""
    out: list[int] = []
    for root, needles in plan:
        found = _find_all(haystack, root, cache)
        if len(needles) == 1 and needles[0] == root:
            out.extend(found)
        else:
            out.extend(i for i in found if any(haystack.startswith(n, i) for n in needles))
    if len(plan) > 1:
        out.sort()
    return out


def _keyword_matches(
    det: _Detector, text: str, lower: str | bytes, cache: dict[bytes, list[int]] | None = None
) -> list[re.Match[str]]:
    """Matches of ``det`` anchored where one of its keywords starts.

    ``find`` on the lower-cased text skips far faster than a case-insensitive regex
    search; when lower-casing changed the length (rare non-ASCII), the regex searches.
    ``lower`` is either ``text.lower()`` or, cheaper, ``_ascii_view(text).lower()``.
    """
    if len(lower) != len(text):
        return list(det.pattern.finditer(text))
    match = det.pattern.match
    out: list[re.Match[str]] = []
    if isinstance(lower, str):
        for word in det.keywords:
            i = lower.find(word)
            while i >= 0:
                m = match(text, i)
                if m is not None:
                    out.append(m)
                i = lower.find(word, i + 1)
        return out
    for i in _occurrences(lower, det.keyword_plan, {} if cache is None else cache):
        m = match(text, i)
        if m is not None:
            out.append(m)
    return out


def _prefix_matches(det: _Detector, text: str, view: bytes, cache: dict[bytes, list[int]]) -> list[re.Match[str]]:
    """What ``det.pattern.finditer(text)`` yields, given that every match starts with a prefix.

    ``view`` is ``_ascii_view(text)``: same length and offsets, so ``bytes.find`` of an
    ASCII prefix finds exactly where it occurs in ``text``.
    """
    out: list[re.Match[str]] = []
    end = 0
    match = det.pattern.match
    for i in _occurrences(view, det.prefix_plan, cache):
        if i < end:
            continue  # finditer resumes after the previous match
        m = match(text, i)
        if m is not None:
            out.append(m)
            end = m.end()
    return out


# Non-ASCII characters whose lower case holds ASCII: with them, only ``str.lower`` finds
# every keyword as the reference behaviour does (KELVIN SIGN -> "k", U+0130 -> "i" + dot).
_LOWER_TO_ASCII: Final = ("\u212a", "\u0130")


def _ascii_view(text: str) -> bytes:
    """``text`` as bytes with every non-ASCII character replaced by "?": offsets unchanged."""
    return text.encode("ascii", "replace") if not text.isascii() else text.encode("ascii")


# --------------------------------------------------------------------------- public


def scan(text: str) -> list[SecretHit]:
    """Every secret in ``text``: non-overlapping, sorted by start."""
    blocked: list[tuple[int, int]] = []
    if "[REDACTED:" in text:
        blocked = [m.span() for m in PLACEHOLDER_RE.finditer(text)]
    found: list[tuple[int, int, int, str]] = []  # (priority, start, end, type)
    view: bytes | None = None
    lower: str | bytes | None = None
    view_cache: dict[bytes, list[int]] = {}
    lower_cache: dict[bytes, list[int]] = {}
    for det in _DETECTORS:
        if det.prefixes:
            # The prefix scan is the gate (every gate is implied by a match).
            if view is None:
                view = _ascii_view(text)
            matches: Any = _prefix_matches(det, text, view, view_cache)
        elif not any(g in text for g in det.gates):
            continue
        elif det.keywords:
            if lower is None:
                if text.isascii() or not any(c in text for c in _LOWER_TO_ASCII):
                    if view is None:
                        view = _ascii_view(text)
                    lower = view.lower()  # ASCII-only lower case, as str.lower here
                else:
                    lower = text.lower()
            matches = _keyword_matches(det, text, lower, lower_cache)
        else:
            matches = det.pattern.finditer(text)
        for m in matches:
            if det.check is not None and not det.check(m):
                continue
            start, end = m.span(det.group)
            if end > start:
                found.append((det.priority, start, end, det.type))
    return _resolve(text, found, blocked)


def _resolve(text: str, found: list[tuple[int, int, int, str]], blocked: list[tuple[int, int]]) -> list[SecretHit]:
    """The hits among ``found`` candidates: the highest priority wins each overlap."""
    if not found:
        return []
    found.sort()
    # Accepted spans never overlap one another, so one sorted list of them and a bisect
    # per candidate tells whether it overlaps any (was: a scan of all accepted spans).
    taken_s: list[int] = []
    taken_e: list[int] = []
    for s, e in sorted(blocked):
        taken_s.append(s)
        taken_e.append(e)
    hits: list[SecretHit] = []
    for _, start, end, type_ in found:
        j = bisect.bisect_left(taken_s, end)  # spans starting before ``end``: [0, j)
        if j and taken_e[j - 1] > start:
            continue
        taken_s.insert(j, start)
        taken_e.insert(j, end)
        value = text[start:end]
        digest = _digest(value)
        hits.append(SecretHit(type_, digest, f"[REDACTED:{type_}:{digest}]", start, end))
    hits.sort(key=lambda h: h.start)
    return hits


def _scan_alone(text: str) -> bool:
    """Texts ``scan_many`` hands to ``scan``: a NUL (its separator), placeholders, or
    characters whose lower case is ASCII (the keyword view would differ)."""
    return "\x00" in text or "[REDACTED:" in text or (not text.isascii() and any(c in text for c in _LOWER_TO_ASCII))


def join_texts(texts: Sequence[str]) -> tuple[str, list[int]]:
    """``texts`` joined with NUL, and where each starts in the result (ascending, so
    ``bisect_right(starts, i) - 1`` is the text holding offset ``i``)."""
    starts: list[int] = []
    pos = 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + 1
    return "\x00".join(texts), starts


def scan_many(texts: Sequence[str]) -> list[list[SecretHit]]:
    """``[scan(t) for t in texts]``, far cheaper for many short texts.

    The texts are joined with NUL and every needle is found with one pass over the whole,
    not one per text; each candidate is then matched in its own text, so results are those
    of ``scan`` exactly (no needle holds a NUL, so none is found across two texts).
    """
    out: list[list[SecretHit]] = [[] for _ in texts]
    batch: list[str] = []
    where: list[int] = []
    for i, t in enumerate(texts):
        if _scan_alone(t):
            out[i] = scan(t)
        elif t:
            batch.append(t)
            where.append(i)
    if not batch:
        return out
    joined, starts = join_texts(batch)
    view = _ascii_view(joined)
    lower: bytes | None = None
    view_cache: dict[bytes, list[int]] = {}
    lower_cache: dict[bytes, list[int]] = {}
    found: dict[int, list[tuple[int, int, int, str]]] = {}
    locate = bisect.bisect_right
    for det in _DETECTORS:
        matches: list[tuple[int, re.Match[str]]] = []
        match = det.pattern.match
        if det.prefixes:
            ends: dict[int, int] = {}
            for i in _occurrences(view, det.prefix_plan, view_cache):
                k = locate(starts, i) - 1
                local = i - starts[k]
                if local < ends.get(k, 0):
                    continue  # finditer resumes after the previous match
                m = match(batch[k], local)
                if m is not None:
                    matches.append((k, m))
                    ends[k] = m.end()
        elif not any(g in joined for g in det.gates):
            continue
        else:
            gated = {k for k, t in enumerate(batch) if any(g in t for g in det.gates)}
            if det.keywords:
                if lower is None:
                    lower = view.lower()
                for i in _occurrences(lower, det.keyword_plan, lower_cache):
                    k = locate(starts, i) - 1
                    if k in gated:
                        m = match(batch[k], i - starts[k])
                        if m is not None:
                            matches.append((k, m))
            else:
                matches.extend((k, m) for k in sorted(gated) for m in det.pattern.finditer(batch[k]))
        for k, m in matches:
            if det.check is not None and not det.check(m):
                continue
            start, end = m.span(det.group)
            if end > start:
                found.setdefault(k, []).append((det.priority, start, end, det.type))
    for k, cands in found.items():
        out[where[k]] = _resolve(batch[k], cands, [])
    return out


def _apply(text: str, hits: list[SecretHit]) -> str:
    if not hits:
        return text
    parts: list[str] = []
    pos = 0
    for h in hits:
        parts.append(text[pos : h.start])
        parts.append(h.placeholder)
        pos = h.end
    parts.append(text[pos:])
    return "".join(parts)


def redact_many(texts: Sequence[str]) -> list[tuple[str, list[SecretHit]]]:
    """``[redact(t) for t in texts]``, with the one-pass scan of ``scan_many``."""
    return [(_apply(t, h), h) for t, h in zip(texts, scan_many(texts))]


def redact(text: str) -> tuple[str, list[SecretHit]]:
    """``text`` with every secret replaced by its placeholder, and the hits (spans in ``text``)."""
    hits = scan(text)
    return _apply(text, hits), hits


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


def is_secret_key(key: object) -> bool:
    """True when a mapping key names a secret (``password``, ``api_key``, ``token``, ...)."""
    return isinstance(key, str) and _KEY_RE.search(key) is not None
