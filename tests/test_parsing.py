"""Unit tests for the streaming page parser: chunking, scalars, exact numbers, bad bodies, gzip."""

from __future__ import annotations

import gzip
import io
import json
import random
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest

from tap_genesys_analytics.http.parsing import (
    EDGE_BYTES,
    BadPageError,
    BodyReader,
    EnvelopeError,
    PageParser,
)

KEYS = ("cursor", "totalHits")

RECORDS_JSON = """[
  {"conversationId": "0c3b7d8e-1f2a-4b5c-8d9e-0a1b2c3d4e5f",
   "conversationStart": "2024-02-29T23:59:59.999Z",
   "cursor": "not-the-page-cursor",
   "metrics": [{"name": "tTalk", "value": 0.1}, {"name": "big", "value": 12345678901234567890}],
   "exact": [0.1, 1.10, -0.30000000000000004, 1e-7, 3.14159265358979323846264338327950288],
   "note": "caf\\u00e9 \u00e9\u20ac\U0001f600 \\"quoted\\" [brackets] {braces}",
   "empty": {}, "none": null, "flag": true},
  {"conversationId": "0c3b7d8e-1f2a-4b5c-8d9e-0a1b2c3d4e60",
   "participants": [{"sessions": [{"segments": [{"segmentType": "talk"}]}]}]},
  {"conversationId": "third", "n": -0, "z": 0}
]"""


def page(*, cursor_first: bool, records: str = RECORDS_JSON, extra: str = "") -> bytes:
    if cursor_first:
        text = f'{{"cursor": "c-42", "totalHits": 3{extra}, "conversations": {records}}}'
    else:
        text = f'{{"conversations": {records}, "cursor": "c-42", "totalHits": 3{extra}}}'
    return text.encode()


def expected_records(body: bytes) -> list[dict[str, Any]]:
    """An independent oracle: the standard library with exact decimals."""
    return json.loads(body, parse_float=Decimal)["conversations"]  # type: ignore[no-any-return]


class Pieces:
    """A body that arrives in pieces of the given sizes (cycled), never more than asked for."""

    def __init__(self, body: bytes, sizes: list[int]) -> None:
        self.body = body
        self.sizes = sizes
        self.pos = 0
        self.reads = 0
        self.asked: list[int] = []

    def read(self, size: int) -> bytes:
        self.asked.append(size)
        if size == 0:
            return b""
        piece = min(size, self.sizes[self.reads % len(self.sizes)])
        self.reads += 1
        data = self.body[self.pos : self.pos + piece]
        self.pos += len(data)
        return data


def feed_in(parser: PageParser, body: bytes, sizes: list[int]) -> list[dict[str, Any]]:
    return list(parser.records(Pieces(body, sizes)))


def parse_bytes(
    body: bytes, array_key: str, scalar_keys: Iterable[str] = (), *, full: bool = False
) -> tuple[PageParser, list[dict[str, Any]]]:
    """A whole body at once: the parser and the records."""
    parser = PageParser(array_key, scalar_keys, full=full)
    records = list(parser.records(io.BytesIO(body)))
    return parser, records


def parse_all(body: bytes, *, full: bool = False) -> PageParser:
    parser = PageParser("conversations", KEYS, full=full)
    for _ in parser.records(io.BytesIO(body)):
        pass
    return parser


def big_records(count: int = 400) -> str:
    rows = [
        {"conversationId": f"{i:08x}-0000-4000-8000-000000000000", "pad": "x" * 200, "n": [i, 0.5]}
        for i in range(count)
    ]
    text = json.dumps(rows)
    assert len(text) > EDGE_BYTES  # the envelope is then read from the page's edges
    return text


# -- chunking -------------------------------------------------------------------------------


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("cursor_first", [False, True])
@pytest.mark.parametrize(
    "sizes", [[1], [2], [3], [7], [64], [1, 5, 2, 11], [10**9]], ids=lambda s: "-".join(map(str, s))
)
def test_any_chunking_yields_the_same_records(
    full: bool, cursor_first: bool, sizes: list[int]
) -> None:
    body = page(cursor_first=cursor_first)
    parser = PageParser("conversations", KEYS, full=full)
    records = feed_in(parser, body, sizes)
    assert records == expected_records(body)
    assert [r["conversationId"] for r in records][-1] == "third"
    assert parser.count == 3
    assert parser.bytes == len(body)
    assert parser.scalar("cursor") == "c-42"
    assert parser.scalar("totalHits") == 3
    assert parser.has_scalar("cursor")


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("cursor_first", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_random_chunking_of_a_page_larger_than_the_edges(
    full: bool, cursor_first: bool, seed: int
) -> None:
    rng = random.Random(seed)
    body = page(cursor_first=cursor_first, records=big_records())
    sizes = [rng.choice([1, 3, 100, 4096, EDGE_BYTES - 1, EDGE_BYTES + 7]) for _ in range(50)]
    parser = PageParser("conversations", KEYS, full=full)
    records = feed_in(parser, body, sizes)
    assert records == expected_records(body)
    assert parser.count == 400
    assert parser.scalar("cursor") == "c-42"
    assert parser.scalar("totalHits") == 3


@pytest.mark.parametrize("full", [False, True])
def test_one_byte_at_a_time_on_a_large_page(full: bool) -> None:
    body = page(cursor_first=False, records=big_records(300))
    whole, whole_records = parse_bytes(body, "conversations", KEYS)
    parser = PageParser("conversations", KEYS, full=full)
    records = feed_in(parser, body, [1])
    assert records == whole_records
    assert parser.scalar("cursor") == whole.scalar("cursor") == "c-42"


@pytest.mark.parametrize("full", [False, True])
def test_records_complete_as_their_bytes_arrive(full: bool) -> None:
    # Streaming: each record is yielded once its own bytes were read, before the next read.
    body = page(cursor_first=False)
    first_end = body.index(b'"flag": true}') + len(b'"flag": true}')
    source = Pieces(body, [first_end - 1, 1, 10**9])
    parser = PageParser("conversations", KEYS, full=full)
    records = parser.records(source)
    first = next(records)
    assert first["conversationId"] == "0c3b7d8e-1f2a-4b5c-8d9e-0a1b2c3d4e5f"
    assert source.pos == first_end  # the rest of the body has not been asked for yet
    assert parser.count == 1
    assert not parser.done
    rest = list(records)
    assert [r["conversationId"] for r in rest] == ["0c3b7d8e-1f2a-4b5c-8d9e-0a1b2c3d4e60", "third"]
    assert parser.count == 3
    assert parser.done


def test_reads_never_exceed_what_ijson_asks_for() -> None:
    body = page(cursor_first=False, records=big_records())
    source = Pieces(body, [10**9])
    parser = PageParser("conversations", KEYS)
    assert len(list(parser.records(source))) == 400
    assert 0 in source.asked  # ijson's probe: answering it with data would lose that data
    assert max(source.asked) <= 64 * 1024
    assert parser.bytes == len(body)


# -- scalars --------------------------------------------------------------------------------


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("cursor_first", [False, True])
def test_cursor_captured_before_or_after_the_array(
    full: bool, large: bool, cursor_first: bool
) -> None:
    records = big_records() if large else RECORDS_JSON
    parser = parse_all(page(cursor_first=cursor_first, records=records), full=full)
    assert parser.scalar("cursor") == "c-42"
    assert parser.has_scalar("cursor")
    assert parser.scalar("totalHits") == 3


@pytest.mark.parametrize("full", [False, True])
def test_a_cursor_inside_a_record_is_not_the_page_cursor(full: bool) -> None:
    body = b'{"conversations": [{"cursor": "inner"}], "totalHits": 1}'
    parser = parse_all(body, full=full)
    assert parser.scalar("cursor") is None
    assert not parser.has_scalar("cursor")
    assert parser.scalar("totalHits") == 1


@pytest.mark.parametrize("full", [False, True])
def test_absent_and_null_scalars(full: bool) -> None:
    parser = parse_all(b'{"conversations": [], "cursor": null}', full=full)
    assert parser.has_scalar("cursor")
    assert parser.scalar("cursor") is None
    assert not parser.has_scalar("totalHits")
    assert parser.count == 0


@pytest.mark.parametrize("full", [False, True])
def test_last_page_without_the_array(full: bool) -> None:
    parser = parse_all(b'{"totalHits": 0}', full=full)
    assert parser.count == 0
    assert parser.scalar("totalHits") == 0
    assert not parser.has_scalar("cursor")


def test_unrequested_scalars_are_not_reported() -> None:
    parser, _ = parse_bytes(
        b'{"conversations": [], "cursor": "c", "totalHits": 9}', "conversations", ["cursor"]
    )
    assert parser.scalar("cursor") == "c"
    assert not parser.has_scalar("totalHits")
    assert parser.scalar("totalHits") is None


def test_large_page_with_unreadable_edges_asks_for_a_full_parse() -> None:
    # No expected scalar around the array: the edges cannot be trusted.
    body = ('{"conversations": ' + big_records() + "}").encode()
    with pytest.raises(EnvelopeError):
        parse_all(body)
    full = parse_all(body, full=True)
    assert full.count == 400
    assert not full.has_scalar("cursor")
    assert issubclass(EnvelopeError, BadPageError)


def test_large_page_with_an_array_after_the_records_keeps_its_cursor() -> None:
    body = (
        '{"conversations": ' + big_records() + ', "cursor": "c-42", "other": [1], "totalHits": 3}'
    ).encode()
    # The full parse is the truth; the edge reading must agree with it or refuse.
    assert parse_all(body, full=True).scalar("cursor") == "c-42"
    try:
        parser = parse_all(body)
    except EnvelopeError:
        return
    assert parser.scalar("cursor") == "c-42"


# -- exact numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("full", [False, True])
def test_numbers_stay_exact(full: bool) -> None:
    parser = PageParser("conversations", KEYS, full=full)
    records = feed_in(parser, page(cursor_first=False), [1])
    first = records[0]
    tenth, big = first["metrics"][0]["value"], first["metrics"][1]["value"]
    assert isinstance(tenth, Decimal)
    assert tenth == Decimal("0.1")
    assert type(big) is int
    assert big == 12345678901234567890
    assert [str(x) for x in first["exact"]] == [
        "0.1",
        "1.10",
        "-0.30000000000000004",
        "1E-7",
        "3.14159265358979323846264338327950288",
    ]
    assert all(isinstance(x, Decimal) for x in first["exact"])
    assert first["note"] == 'café é€😀 "quoted" [brackets] {braces}'
    assert records[2]["n"] == 0
    assert type(records[2]["z"]) is int


@pytest.mark.parametrize("large", [False, True])
def test_scalar_numbers_stay_exact_in_both_modes(large: bool) -> None:
    records = big_records() if large else RECORDS_JSON
    body = page(cursor_first=False, records=records, extra=', "ratio": 0.1')
    keys = (*KEYS, "ratio")
    edges, _ = parse_bytes(body, "conversations", keys)
    full, _ = parse_bytes(body, "conversations", keys, full=True)
    assert isinstance(full.scalar("ratio"), Decimal)
    assert isinstance(edges.scalar("ratio"), Decimal)


# -- bad bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("full", [False, True])
def test_every_cut_raises_at_the_end(full: bool) -> None:
    body = page(cursor_first=False)
    for cut in range(1, len(body)):
        parser = PageParser("conversations", KEYS, full=full)
        with pytest.raises(BadPageError, match="ends early"):
            list(parser.records(io.BytesIO(body[:cut])))
        assert not parser.done


@pytest.mark.parametrize("full", [False, True])
def test_cut_large_page_yields_the_records_read_so_far_then_raises(full: bool) -> None:
    body = page(cursor_first=False, records=big_records())
    cut = len(body) // 2
    parser = PageParser("conversations", KEYS, full=full)
    records: list[dict[str, Any]] = []
    with pytest.raises(BadPageError, match="ends early"):
        records.extend(parser.records(Pieces(body[:cut], [4096])))
    assert 0 < len(records) < 400
    assert records == expected_records(body)[: len(records)]
    assert not parser.done
    assert not parser.has_scalar("cursor")


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize(
    "body",
    [
        b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        b"<!DOCTYPE html>\n<html></html>",
        b"Service Unavailable",
        b"",
        b'{"conversations": [{"a": 1},, {"b": 2}]}',
        b'{"conversations": [{"a": 1}]} trailing garbage',
        b'{"conversations": [{"a": 1}]}{"conversations": []}',
        b'{"conversations": [{"a": 01}]}',
        b'{"conversations": [{"a": tru}]}',
        b'{"conversations": [{"a": "unterminated}]}',
        b"{conversations: []}",
    ],
    ids=lambda b: b[:24].decode(errors="replace") or "empty",
)
def test_garbled_bodies_raise_bad_page(body: bytes, full: bool) -> None:
    with pytest.raises(BadPageError):
        parse_all(body, full=full)
    # Also when the garbage trickles in byte by byte.
    parser = PageParser("conversations", KEYS, full=full)
    with pytest.raises(BadPageError):
        list(parser.records(Pieces(body, [1])))


def test_parse_bytes_whole_body() -> None:
    body = page(cursor_first=True)
    parser, records = parse_bytes(body, "conversations", KEYS)
    assert records == expected_records(body)
    assert parser.count == 3
    assert parser.scalar("cursor") == "c-42"
    assert parser.done


def test_other_array_keys() -> None:
    body = b'{"userDetails": [{"userId": "u1"}, {"userId": "u2"}], "conversations": [{"x": 1}]}'
    _, records = parse_bytes(body, "userDetails")
    assert [r["userId"] for r in records] == ["u1", "u2"]


# -- the body reader: identity and gzip -----------------------------------------------------


def gzip_body(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=1)


@pytest.mark.parametrize("sizes", [[1], [7], [4096], [10**9], [1, 300, 9, 70000]])
@pytest.mark.parametrize("gzipped", [False, True])
def test_body_reader_gives_the_same_records_whatever_the_wire_pieces(
    gzipped: bool, sizes: list[int]
) -> None:
    body = page(cursor_first=False, records=big_records())
    wire = Pieces(gzip_body(body) if gzipped else body, sizes)
    parser = PageParser("conversations", KEYS)
    records = list(parser.records(BodyReader(wire.read, gzipped=gzipped)))
    assert records == expected_records(body)
    assert parser.bytes == len(body)  # inflated bytes
    assert parser.scalar("cursor") == "c-42"
    assert wire.pos == len(wire.body)


def test_body_reader_honours_the_size_and_never_ends_early_on_an_empty_inflate() -> None:
    body = page(cursor_first=False, records=big_records())
    # One byte of gzip at a time: most reads inflate to nothing (header, deflate state), which
    # must not be taken for the end of the body.
    reader = BodyReader(Pieces(gzip_body(body), [1]).read, gzipped=True)
    assert reader.read(0) == b""
    out = bytearray()
    while piece := reader.read(1000):
        assert len(piece) <= 1000
        out += piece
    assert bytes(out) == body
    assert reader.read(1000) == b""


def test_body_reader_read_all() -> None:
    body = page(cursor_first=True)
    assert BodyReader(io.BytesIO(gzip_body(body)).read, gzipped=True).read() == body
    assert BodyReader(io.BytesIO(body).read, gzipped=False).read() == body


@pytest.mark.parametrize("where", [0.1, 0.5, 0.99])
def test_a_cut_gzip_body_raises_bad_page(where: float) -> None:
    body = page(cursor_first=False, records=big_records())
    wire = gzip_body(body)
    cut = wire[: int(len(wire) * where)]
    parser = PageParser("conversations", KEYS)
    with pytest.raises(BadPageError, match="ends early"):
        list(parser.records(BodyReader(io.BytesIO(cut).read, gzipped=True)))
    assert not parser.done


def test_a_gzip_body_missing_only_its_trailer_raises_bad_page() -> None:
    # The JSON is complete but the gzip stream is not: the body was cut, so it is refused.
    body = page(cursor_first=False)
    wire = gzip_body(body)[:-4]
    parser = PageParser("conversations", KEYS)
    with pytest.raises(BadPageError, match="gzip body ends early"):
        list(parser.records(BodyReader(io.BytesIO(wire).read, gzipped=True)))
