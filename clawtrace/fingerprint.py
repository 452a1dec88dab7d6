"""Winnowing fingerprints: find a fragment of one content inside another (DESIGN.md section 5).

A fingerprint keeps, for every window of ``W`` consecutive ``K``-byte k-grams, the k-gram
with the smallest hash (Schleimer, Wilkerson and Aiken, "Winnowing", SIGMOD 2003). Any
substring of ``K + W - 1 = 32`` bytes or more shared by two contents contains a whole
window, whose minimum is the same k-gram in both, so the two fingerprints share a hash.

Inputs (what an action used) are also fingerprinted after cheap decodings, so a secret
file's body that leaves base64-, hex- or URL-encoded, or gzipped then base64-encoded, still
matches the raw fingerprint of the file it came from.

Everything is vectorised with numpy: the input is viewed as an unaligned ``uint64`` at every
offset, so a k-gram hash is a few whole-array operations; the window minimum is a log-step
sliding minimum; decodings are found by compiled regexes over the bytes. Work is done in
chunks that overlap by ``K + W - 2`` bytes, which keeps the arrays in cache and memory flat
without losing a window.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import hashlib
import itertools
import re
import urllib.parse
import zlib
from collections.abc import Sequence
from typing import Final

import numpy as np

__all__ = [
    "K",
    "W",
    "GUARANTEE",
    "Enc",
    "Fingerprint",
    "Overlap",
    "winnow",
    "class_table",
    "class_runs",
    "fingerprint",
    "fingerprint_many",
    "overlap",
    "contains_fragment",
]

K: Final = 16
"""Length of a k-gram, in bytes."""

W: Final = 17
"""Winnowing window, in k-grams."""

GUARANTEE: Final = K + W - 1
"""A common substring at least this long (32 bytes) always yields a common hash."""


class Enc(enum.IntEnum):
    """In which variant of the content a hash was found."""

    RAW = 0
    BASE64 = 1
    HEX = 2
    URL = 3
    GZIP = 4


@dataclasses.dataclass(frozen=True, slots=True)
class Fingerprint:
    """The sha256, size and winnowing fingerprint of one content.

    ``hashes`` are unique. ``positions[i]`` is where ``hashes[i]`` was first selected: an
    offset in the raw content for ``Enc.RAW``; for a decoded variant, the offset in the raw
    content where the encoded run (base64 run, hex run, URL token, gzip stream) starts.
    """

    sha256: str
    size: int
    hashes: np.ndarray
    positions: np.ndarray
    encodings: np.ndarray


@dataclasses.dataclass(frozen=True, slots=True)
class Overlap:
    """What two fingerprints share.

    ``matched_bytes`` is an estimate: the matched k-grams of the first content are grouped
    into runs no more than a window apart, each run counts from its first k-gram to the end
    of its last, and the total is capped at the first content's size. ``encoding`` is the
    variant of the second content in which most matches were found.
    """

    count: int
    matched_bytes: int
    out_offset: int
    in_offset: int
    encoding: str


# --------------------------------------------------------------------------- hashing

_CHUNK: Final = 32 * 1024
"""Windows per chunk. 32 KiB keeps every temporary array (8 bytes per offset) in L2 cache."""

_SPAN: Final = K + W - 2
"""Extra bytes a chunk reads past its last window start (the end of that window)."""

_POS_BITS: Final = 20
"""Low bits of a selection key that hold the k-gram's offset in its chunk (tie-break)."""

_POS_MASK: Final = np.uint64((1 << _POS_BITS) - 1)
_KEY_MASK: Final = np.uint64(((1 << 64) - 1) ^ ((1 << _POS_BITS) - 1))
_M1: Final = np.uint64(0xBF58476D1CE4E5B9)
_M2: Final = np.uint64(0x94D049BB133111EB)
_S29: Final = np.uint64(29)
_ARANGE: Final = np.arange(_CHUNK + _SPAN + 1, dtype=np.uint64)
_EMPTY_U64: Final = np.zeros(0, dtype=np.uint64)
_EMPTY_I64: Final = np.zeros(0, dtype=np.int64)

assert _CHUNK + _SPAN < (1 << _POS_BITS)


def _u64_view(buf: np.ndarray, count: int) -> np.ndarray:
    """``count`` little-endian uint64 read at every byte offset of ``buf`` (no copy)."""
    return np.ndarray(shape=(count,), dtype="<u8", buffer=buf, offset=0, strides=(1,))


def _kgram_hashes(u: np.ndarray, n: int) -> np.ndarray:
    """64-bit hashes of the ``n`` k-grams whose two 8-byte halves are ``u[i]`` and ``u[i + 8]``.

    ``m = x * M1; m ^= m >> 29`` is a bijection of each half whose top bits depend on all
    of its 8 bytes; the halves are combined as ``m[i] ^ (m[i + 8] * M2)``, so the top bits
    (which order the window minimum) depend on all 16 bytes. Five array passes in all.
    """
    m = u * _M1
    m ^= m >> _S29
    h = m[8 : n + 8] * _M2
    h ^= m[:n]
    return h


class _Scratch:
    """Work arrays for winnowing chunks of up to ``nk`` k-grams, allocated once per call.

    Every pass writes into these (``out=``), so a chunk allocates nothing but its small
    result: fresh 256 KiB temporaries per pass cost page faults that doubled the time.
    """

    __slots__ = ("a", "b", "c", "change")

    def __init__(self, nk: int) -> None:
        self.a = np.empty(nk + 8, dtype=np.uint64)
        self.b = np.empty(nk + 8, dtype=np.uint64)
        self.c = np.empty(nk + 8, dtype=np.uint64)
        self.change = np.empty(nk, dtype=bool)


def _window_minima(u: np.ndarray, nk: int, s: _Scratch) -> tuple[np.ndarray, np.ndarray]:
    """Selection keys of the ``nk - W + 1`` windows of a chunk of ``nk >= W`` k-grams, and the
    k-grams' hashes (both views into ``s``).

    ``u`` holds the ``nk + 8`` uint64 read at the chunk's offsets. Selection key = the hash's
    top 44 bits with the k-gram's offset in the low 20 bits, so a window's minimum key is its
    smallest hash and, on a tie of those bits, the leftmost k-gram: a function of the
    window's bytes only, which is what the guarantee needs. The same hash as
    ``_kgram_hashes``, computed in place; about fifteen vectorised passes in all.
    """
    m = s.a[: nk + 8]
    np.copyto(m, u)  # a contiguous copy, then contiguous passes: cheaper than strided ones
    np.multiply(m, _M1, out=m)
    t = s.b[: nk + 8]
    np.right_shift(m, _S29, out=t)
    np.bitwise_xor(m, t, out=m)
    h = s.b[:nk]
    np.multiply(m[8:], _M2, out=h)
    np.bitwise_xor(h, m[:nk], out=h)
    key = s.a[:nk]
    np.bitwise_and(h, _KEY_MASK, out=key)
    np.bitwise_or(key, _ARANGE[:nk], out=key)
    # Sliding minimum over W = 17 by doubling: widths 2, 4, 8, 16, then 17.
    a, c = s.a, s.c
    n = nk - 1
    np.minimum(a[:n], a[1 : n + 1], out=c[:n])
    n -= 2
    np.minimum(c[:n], c[2 : n + 2], out=a[:n])
    n -= 4
    np.minimum(a[:n], a[4 : n + 4], out=c[:n])
    n -= 8
    np.minimum(c[:n], c[8 : n + 8], out=a[:n])
    n -= 1
    np.minimum(a[:n], a[1 : n + 1], out=c[:n])
    return c[:n], h


def _winnow_chunk(u: np.ndarray, nk: int, s: _Scratch | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Selected (hash, offset) pairs of the ``nk`` k-grams of one chunk, offsets ascending."""
    if s is None:
        s = _Scratch(nk)
    if nk >= W:
        w, h = _window_minima(u, nk, s)
    else:
        # Fewer k-grams than a window: the whole content is one window.
        h = _kgram_hashes(u, nk)
        w = ((h & _KEY_MASK) | _ARANGE[:nk]).min(keepdims=True)
    # The leftmost minimum's offset never decreases as the window slides, and a key holds
    # its offset: keep the windows whose key differs from the previous window's.
    change = s.change[: len(w)]
    change[0] = True
    np.not_equal(w[1:], w[:-1], out=change[1:])
    pos = w[np.flatnonzero(change)]
    pos &= _POS_MASK
    pos = pos.view(np.int64)
    return h[pos], pos


def _winnow_all(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Selected hashes and offsets of ``data``, in offset order, with repeats."""
    size = len(data)
    if size < K:
        return _EMPTY_U64, _EMPTY_I64
    # The last k-gram's second half ends at the last byte, so the views need no padding
    # (and no copy of the content: a fresh large array costs a page fault per 4 KiB).
    buf = np.frombuffer(data, dtype=np.uint8)
    total = size - K + 1
    if total <= _CHUNK + W - 1:
        return _winnow_chunk(_u64_view(buf, total + 8), total)
    scratch = _Scratch(_CHUNK + W - 1)
    hs: list[np.ndarray] = []
    ps: list[np.ndarray] = []
    nwin = total - W + 1
    for start in range(0, nwin, _CHUNK):
        nk = min(_CHUNK, nwin - start) + W - 1
        h, p = _winnow_chunk(_u64_view(buf[start:], nk + 8), nk, scratch)
        if start:
            p += start
        hs.append(h)
        ps.append(p)
    return np.concatenate(hs), np.concatenate(ps)


_BLOCK: Final = 1 << 18
"""Elements per block of the passes over large arrays in ``_first_unique`` (small, reused temporaries)."""


def _first_unique(hashes: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique hashes with the smallest ``rank`` (int64) of each, ``rank`` nondecreasing.

    One plain sort (several times cheaper than an argsort) of keys holding the hash's top
    bits above the element's index: equal hashes end up adjacent, in index order, so the
    first of each run has the smallest rank. Distinct hashes that share the top bits (rare:
    the index takes ~log2(n) bits) are resolved exactly by a lexsort of just those. The
    element-wise passes run by blocks, so large inputs allocate few large arrays.
    """
    n = len(hashes)
    if n <= 1:
        return (hashes, rank) if n else (_EMPTY_U64, _EMPTY_I64)
    bits = (n - 1).bit_length()
    low = np.uint64((1 << bits) - 1)
    key = hashes & ~low
    if n <= len(_ARANGE):
        key |= _ARANGE[:n]
    else:
        step = np.arange(_BLOCK, dtype=np.uint64)
        tmp = np.empty(_BLOCK, dtype=np.uint64)
        for i in range(0, n, _BLOCK):
            j = min(i + _BLOCK, n)
            np.add(step[: j - i], np.uint64(i), out=tmp[: j - i])
            key[i:j] |= tmp[: j - i]
    key.sort()
    # new_prefix: the top bits differ from the previous key's; then key -> index, in place.
    new_prefix = np.empty(n, dtype=bool)
    new_prefix[0] = True
    mixed = np.empty(n, dtype=bool)  # same top bits as the previous, different hash
    mixed[0] = False
    shift = np.uint64(bits)
    for i in range(0, n, _BLOCK):
        j = min(i + _BLOCK, n)
        lo_i = max(i, 1)
        np.greater(key[lo_i:j] ^ key[lo_i - 1 : j - 1], low, out=new_prefix[lo_i:j])
        blk = key[max(i - 1, 0) : j] & low
        hs = hashes[blk.view(np.int64)]
        np.not_equal(hs[1:], hs[:-1], out=mixed[lo_i:j])
        mixed[lo_i:j] &= ~new_prefix[lo_i:j]
    if not mixed.any():
        key &= low
        first = key.view(np.int64)[new_prefix]
        return hashes[first], rank[first]
    prefixes = np.unique(key[np.flatnonzero(mixed)] >> shift)
    los = np.searchsorted(key, prefixes << shift, side="left")
    his = np.searchsorted(key, (prefixes << shift) | low, side="right")
    key &= low
    idx = key.view(np.int64)
    # Some top-bit groups hold distinct hashes: redo those few groups exactly.
    in_bad = np.zeros(n, dtype=bool)
    for a, b in zip(los.tolist(), his.tolist()):
        in_bad[a:b] = True
    sub = idx[in_bad]
    sub = sub[np.lexsort((sub, hashes[sub]))]
    sh = hashes[sub]
    sub_first = np.empty(len(sub), dtype=bool)
    sub_first[0] = True
    np.not_equal(sh[1:], sh[:-1], out=sub_first[1:])
    first = np.concatenate((idx[new_prefix & ~in_bad], sub[sub_first]))
    return hashes[first], rank[first]


def _arange_u64(n: int) -> np.ndarray:
    return _ARANGE[:n] if n <= len(_ARANGE) else np.arange(n, dtype=np.uint64)


def winnow(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The winnowing fingerprint of ``data``: unique selected hashes and first offsets.

    Returns ``(hashes uint64, positions int64)`` in no particular order; empty arrays when
    ``data`` is shorter than ``K``. ``positions[i]`` is the offset of the first k-gram
    selected with hash ``hashes[i]``.
    """
    return _first_unique(*_winnow_all(data))


_MIX: Final = np.uint64(0x9E3779B97F4A7C15)
"""Odd multiplier that spreads a content's index over 64 bits (``_winnow_many``)."""


def _winnow_many(datas: Sequence[bytes]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[winnow(d) for d in datas]``, with the contents of 32 bytes or more winnowed together.

    One ``winnow`` costs some forty numpy calls whatever the size, which is most of the
    time for the short contents an import holds by the thousand. Here they are joined and
    winnowed in 32 KiB chunks as one content would be; a window is kept only when it lies
    inside one content (the first window of a content always counts as a change), so each
    content gets the selection it would get alone. Repeats are then dropped per content by
    one ``_first_unique`` over hash XOR (content index * odd constant): a wrong merge needs a
    64-bit collision between two contents' keys, about 1e-8 per million selections.
    """
    out: list[tuple[np.ndarray, np.ndarray]] = [(_EMPTY_U64, _EMPTY_I64)] * len(datas)
    joined: list[int] = []
    for i, d in enumerate(datas):
        if len(d) >= GUARANTEE:
            joined.append(i)
        elif len(d) >= K:
            out[i] = winnow(d)
    if len(joined) <= 1:
        for i in joined:
            out[i] = winnow(datas[i])
        return out
    buf = np.frombuffer(b"".join([datas[i] for i in joined]), dtype=np.uint8)
    sizes = np.fromiter((len(datas[i]) for i in joined), dtype=np.int64, count=len(joined))
    starts = np.cumsum(sizes) - sizes
    last = starts + sizes - GUARANTEE  # the last window that starts in a content and ends in it
    nwin = len(buf) - GUARANTEE + 1
    scratch = _Scratch(_CHUNK + W - 1)
    hs: list[np.ndarray] = []
    ps: list[np.ndarray] = []
    os: list[np.ndarray] = []
    for start in range(0, nwin, _CHUNK):
        nw = min(_CHUNK, nwin - start)
        w, h = _window_minima(_u64_view(buf[start:], nw + W + 7), nw + W - 1, scratch)
        change = scratch.change[:nw]
        change[0] = True
        np.not_equal(w[1:], w[:-1], out=change[1:])
        # The contents this chunk's windows start in: starts[lo:hi].
        lo = int(np.searchsorted(starts, start, side="right")) - 1
        hi = int(np.searchsorted(starts, start + nw))
        local = starts[lo:hi] - start
        change[local[1:]] = True  # a content's first window always counts as a change
        idx = np.flatnonzero(change)
        owner = np.searchsorted(local, idx, side="right") + (lo - 1)
        keep = idx + start <= last[owner]
        idx, owner = idx[keep], owner[keep]
        pos = w[idx]
        pos &= _POS_MASK
        pos = pos.view(np.int64)
        hs.append(h[pos])
        ps.append(pos + start)
        os.append(owner)
    hashes = np.concatenate(hs)
    positions = np.concatenate(ps)  # nondecreasing, so the first of a hash has its first offset
    owners = np.concatenate(os)  # a kept window's k-grams lie in the content it starts in
    _, first = _first_unique(hashes ^ (owners.astype(np.uint64) * _MIX), np.arange(len(hashes), dtype=np.int64))
    first.sort()
    hashes, positions, owners = hashes[first], positions[first], owners[first]
    bounds = np.searchsorted(owners, np.arange(len(joined) + 1)).tolist()
    for j, i in enumerate(joined):
        a, b = bounds[j], bounds[j + 1]
        out[i] = (hashes[a:b], positions[a:b] - starts[j])
    return out


# --------------------------------------------------------------------------- decodings

_GZIP_CAP: Final = 16 * 1024 * 1024
"""At most this many bytes are gunzipped per content, in total (a gzip bomb stays cheap)."""

_B64_MIN: Final = 24
_HEX_MIN: Final = 32
_URL_MIN: Final = GUARANTEE
"""An encoding is never shorter than what it encodes, so shorter URL tokens cannot match."""


def class_table(chars: bytes) -> bytes:
    """A ``bytes.translate`` table mapping ``chars`` to ``a`` and every other byte to a space."""
    table = bytearray(b" " * 256)
    for c in chars:
        table[c] = ord("a")
    return bytes(table)


_B64_CHARS: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
_B64_TABLE: Final = class_table(_B64_CHARS + b"\r\n")
_HEX_TABLE: Final = class_table(b"0123456789abcdefABCDEF")
_URL_TABLE: Final = class_table(bytes(range(0x21, 0x7F)))
_HEX_ESCAPES: Final = re.compile(rb"(?:\\x[0-9a-fA-F]{2}){16,}")
_PCT_ESCAPE: Final = re.compile(rb"%[0-9A-Fa-f]{2}")
_GZIP_MAGIC: Final = re.compile(rb"\x1f\x8b\x08")
_NEWLINES: Final = b"\r\n"
_URLSAFE: Final = bytes.maketrans(b"-_", b"+/")


def _b64_decodings(run: bytes) -> list[bytes]:
    """Decodings of one base64 run (std or urlsafe, maybe wrapped), at the plausible alignments.

    A padded or 4-aligned run decodes as is. Otherwise a neighbouring alphabet byte may be
    glued to either end, so the run is decoded both from its start and up to its end.
    """
    clean = run.translate(None, _NEWLINES) if (b"\n" in run or b"\r" in run) else run
    if b"-" in clean or b"_" in clean:
        clean = clean.translate(_URLSAFE)
    body = clean.rstrip(b"=")
    rem = len(body) % 4
    if len(clean) != len(body):
        # Padding marks the end of a 4-character group: align on the end.
        variants = [clean[len(clean) % 4 :]]
    elif rem == 0:
        variants = [clean]
    else:
        # From the start (unpadded base64 is valid with 2 or 3 trailing characters), or up to the end.
        head = body + b"=" * (4 - rem) if rem > 1 else body[: len(body) - rem]
        variants = [head, body[rem:]]
    out: list[bytes] = []
    for v in variants:
        try:
            out.append(base64.b64decode(v))
        except (binascii.Error, ValueError):
            continue
    return out


def _hex_decodings(run: bytes) -> list[bytes]:
    """Decodings of one hex run; an odd-length run is decoded at both alignments."""
    if len(run) % 2 == 0:
        return [binascii.unhexlify(run)]
    return [binascii.unhexlify(run[:-1]), binascii.unhexlify(run[1:])]


def class_runs(data: bytes, table: bytes, min_len: int) -> list[tuple[int, int]]:
    """``(start, end)`` of every run of at least ``min_len`` bytes of ``table``'s class.

    The data is translated to ``a`` (in the class) and spaces, and runs are found with
    ``bytes.find`` of ``a * min_len``, whose skip search jumps over short words: five times
    faster than a regex, and the loop is over runs, never over bytes.
    """
    marked = data.translate(table)
    seed = b"a" * min_len
    out: list[tuple[int, int]] = []
    i = marked.find(seed)
    while i >= 0:
        end = marked.find(b" ", i + min_len)
        if end < 0:
            end = len(marked)
        out.append((i, end))
        i = marked.find(seed, end)
    return out


def _url_tokens(data: bytes) -> list[tuple[int, int]]:
    """Spans of whitespace-free printable tokens of >= 32 bytes that hold a "%" or a "+".

    Found from each "%" or "+" outwards (``bytes.find``/``rfind`` on a translated copy), so
    the loop is over those characters, skipping each token once handled, not over tokens.
    """
    marked = data.translate(_URL_TABLE)
    spans: dict[int, int] = {}
    for ch in (b"%", b"+"):
        i = data.find(ch)
        while i >= 0:
            start = marked.rfind(b" ", 0, i) + 1
            end = marked.find(b" ", i)
            if end < 0:
                end = len(data)
            if end - start >= _URL_MIN:
                spans[start] = end
            i = data.find(ch, max(end, i + 1))
    return sorted(spans.items())


class _Variant:
    """Decoded pieces of one encoding, each tagged with the raw offset it came from."""

    __slots__ = ("pieces", "origins")

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.origins: list[int] = []

    def add(self, piece: bytes, origin: int) -> None:
        if len(piece) >= K:
            self.pieces.append(piece)
            self.origins.append(origin)


def _gunzip(data: bytes, start: int, budget: int) -> bytes:
    """The gzip stream at ``data[start:]``, at most ``budget`` bytes; b"" if it is not one."""
    d = zlib.decompressobj(wbits=31)
    try:
        return d.decompress(data[start:], budget)
    except zlib.error:
        return b""


def _decoded_variants(data: bytes) -> dict[Enc, _Variant]:
    """Every cheap decoding found in ``data``, one level deep plus gzip inside base64/hex."""
    variants = {enc: _Variant() for enc in (Enc.BASE64, Enc.HEX, Enc.URL, Enc.GZIP)}
    b64, hexv, url, gz = variants[Enc.BASE64], variants[Enc.HEX], variants[Enc.URL], variants[Enc.GZIP]
    for start, end in class_runs(data, _B64_TABLE, _B64_MIN):
        if data[end : end + 1] == b"=":
            end += 2 if data[end + 1 : end + 2] == b"=" else 1
        run = data[start:end]
        for piece in _b64_decodings(run.strip(_NEWLINES)):
            b64.add(piece, start)
        # Hex digits are base64 characters too, so every hex run lies inside a base64 run.
        if len(run) >= _HEX_MIN:
            for hs, he in class_runs(run, _HEX_TABLE, _HEX_MIN):
                for piece in _hex_decodings(run[hs:he]):
                    hexv.add(piece, start + hs)
    i = data.find(b"\\x")
    while i >= 0:  # one step per "\x" (a regex search here would try every byte)
        m = _HEX_ESCAPES.match(data, i)
        if m is None:
            i = data.find(b"\\x", i + 2)
            continue
        hexv.add(binascii.unhexlify(m.group().replace(b"\\x", b"")), i)
        i = data.find(b"\\x", m.end())
    if b"%" in data or b"+" in data:
        for start, end in _url_tokens(data):
            token = data[start:end]
            escaped = _PCT_ESCAPE.search(token) is not None
            # "+" alone means a form-encoded space only where "/" is absent (quote_plus
            # escapes "/"); this skips base64 blobs, which are handled above.
            if escaped or (b"+" in token and b"/" not in token):
                url.add(urllib.parse.unquote_to_bytes(token.replace(b"+", b" ")), start)
    budget = _GZIP_CAP
    sources = [(data, 0, None)] + [(p, o, b64) for p, o in zip(b64.pieces, b64.origins)]
    sources += [(p, o, hexv) for p, o in zip(hexv.pieces, hexv.origins)]
    for blob, origin, parent in sources:
        if budget <= 0:
            break
        if b"\x1f\x8b\x08" not in blob:
            continue
        for m in _GZIP_MAGIC.finditer(blob):
            out = _gunzip(blob, m.start(), budget)
            budget -= len(out)
            gz.add(out, origin if parent is not None else m.start())
            if budget <= 0:
                break
    return variants


def _winnow_variant(variant: _Variant) -> tuple[np.ndarray, np.ndarray]:
    """Selected hashes of a variant's pieces, each offset mapped to its raw origin.

    The pieces are concatenated and winnowed once (a k-gram across two pieces is harmless
    noise; a fragment inside one piece is still whole, so the guarantee holds).
    """
    pieces, origins = variant.pieces, variant.origins
    if any(b < a for a, b in itertools.pairwise(origins)):
        # Pieces in origin order, so the mapped offsets come out in order.
        order = sorted(range(len(origins)), key=origins.__getitem__)
        pieces = [pieces[i] for i in order]
        origins = [origins[i] for i in order]
    joined = b"".join(pieces)
    h, p = _winnow_all(joined)
    if len(h) == 0:
        return h, p
    if len(pieces) == 1:
        return h, np.full(len(h), origins[0], dtype=np.int64)
    lengths = np.fromiter((len(x) for x in pieces), dtype=np.int64, count=len(pieces))
    starts = np.cumsum(lengths) - lengths
    idx = np.searchsorted(starts, p, side="right") - 1
    return h, np.asarray(origins, dtype=np.int64)[idx]


# --------------------------------------------------------------------------- public


def fingerprint(data: bytes, *, decode: bool = False) -> Fingerprint:
    """The fingerprint of ``data``; with ``decode``, of its decodings too.

    Use ``decode=True`` for content an action used (an input): base64 runs (std or
    urlsafe, at least 24 characters, possibly wrapped over lines), hex runs (at least 32
    digits, or ``\\xNN`` escapes), URL-encoded tokens (with ``%XX`` escapes or ``+``) and
    gzip streams (raw, or inside a decoded base64 or hex run; at most 16 MiB in all) are
    decoded and fingerprinted too, their hashes tagged with their ``Enc``. A hash found in
    several variants keeps the raw one, else the first found.
    """
    data = bytes(data)
    h, p = _winnow_all(data)
    return _assemble(data, h, p, _decoded_variants(data) if decode and len(data) >= K else None, unique=False)


def fingerprint_many(datas: Sequence[bytes], decode: Sequence[bool] | None = None) -> list[Fingerprint]:
    """``[fingerprint(d, decode=x) for d, x in zip(datas, decode)]`` (``decode`` defaults to
    all False), several times cheaper for many short contents: the raw winnowing of all of
    them is one vectorised pass (``_winnow_many``). Same hashes and positions; the order of
    a fingerprint's hashes may differ (it is unspecified)."""
    datas = [bytes(d) for d in datas]
    flags = list(decode) if decode is not None else [False] * len(datas)
    if len(flags) != len(datas):
        raise ValueError(f"fingerprint_many: {len(datas)} contents but {len(flags)} decode flags")
    return [
        _assemble(d, h, p, _decoded_variants(d) if x and len(d) >= K else None, unique=True)
        for d, x, (h, p) in zip(datas, flags, _winnow_many(datas))
    ]


def _assemble(
    data: bytes, h: np.ndarray, p: np.ndarray, variants: dict[Enc, _Variant] | None, *, unique: bool
) -> Fingerprint:
    """The fingerprint of ``data`` from its raw selections ``(h, p)`` (offsets nondecreasing;
    ``unique`` says they hold no repeat) and its decoded variants, if any."""
    digest = hashlib.sha256(data).hexdigest()
    parts_h = [h]
    parts_p = [p]
    parts_e = [int(Enc.RAW)]
    for enc, variant in (variants or {}).items():
        if not variant.pieces:
            continue
        vh, vp = _winnow_variant(variant)
        if len(vh):
            parts_h.append(vh)
            parts_p.append(vp)
            parts_e.append(int(enc))
    if len(parts_h) == 1:
        hashes, positions = (h, p) if unique else _first_unique(h, p)
        encodings = np.zeros(len(hashes), dtype=np.uint8)
    else:
        # Rank = encoding in the top byte, offset below: raw wins, then the smallest offset.
        # Parts come in encoding order, each in offset order, so the ranks never decrease.
        rank = np.concatenate(parts_p)
        at = 0
        for pp, ee in zip(parts_p, parts_e):
            if ee:
                rank[at : at + len(pp)] |= ee << 56
            at += len(pp)
        all_h = np.concatenate(parts_h)
        if np.any(rank[1:] < rank[:-1]):  # defensive: _first_unique needs ranks in order
            order = np.argsort(rank, kind="stable")
            all_h, rank = all_h[order], rank[order]
        hashes, rank = _first_unique(all_h, rank)
        positions = rank & ((1 << 56) - 1)
        encodings = (rank >> 56).astype(np.uint8)
    return Fingerprint(sha256=digest, size=len(data), hashes=hashes, positions=positions, encodings=encodings)


def overlap(out_fp: Fingerprint, in_fp: Fingerprint) -> Overlap | None:
    """What ``in_fp`` (an input, usually decoded) shares with ``out_fp`` (an output), or None."""
    if len(out_fp.hashes) == 0 or len(in_fp.hashes) == 0:
        return None
    _, oi, ii = np.intersect1d(out_fp.hashes, in_fp.hashes, assume_unique=True, return_indices=True)
    if len(oi) == 0:
        return None
    out_pos = np.sort(out_fp.positions[oi])
    gaps = np.diff(out_pos)
    breaks = np.flatnonzero(gaps > W)
    run_first = out_pos[np.concatenate(([0], breaks + 1))]
    run_last = out_pos[np.concatenate((breaks, [len(out_pos) - 1]))]
    matched = int(np.sum(run_last - run_first + K))
    encs = np.bincount(in_fp.encodings[ii], minlength=len(Enc))
    return Overlap(
        count=len(oi),
        matched_bytes=min(matched, out_fp.size),
        out_offset=int(out_pos[0]),
        in_offset=int(in_fp.positions[ii].min()),
        encoding=Enc(int(np.argmax(encs))).name.lower(),
    )


def contains_fragment(haystack: bytes, needle_source: bytes) -> bool:
    """Whether ``haystack`` holds 32 or more bytes of ``needle_source``, raw or encoded."""
    return overlap(fingerprint(needle_source), fingerprint(haystack, decode=True)) is not None
