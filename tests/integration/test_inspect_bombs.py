"""`sluice inspect` on hostile files built byte by byte (pq_craft.py): counts and sizes a
real writer never declares, meant to make the reader spend unbounded time or memory, and
strings meant to drive the terminal. Each bomb must end with exit 8 and a message naming
the file within 2 s and under 100 MB of peak RSS (measured by GNU time); text output must carry no control character from the file. Needs no MariaDB.

The crafting is checked first: a valid file made the same way reads back in pyarrow."""
import os
import struct
import subprocess
import time

import pyarrow.parquet as pq
import pytest

import pq_craft as C
from conftest import SLUICE

TIME_LIMIT_S = 2.0
RSS_LIMIT_KB = 100 * 1024


def run_wait4(args, timeout=60):
    """Runs sluice under GNU time; returns (exit code, stdout, stderr, seconds, peak RSS in
    KiB). Not os.wait4 on our own child: a child forked (or vforked) from pytest inherits
    pytest's RSS high-water mark, which exec keeps; GNU time's child starts small."""
    import tempfile
    with tempfile.NamedTemporaryFile() as tf:
        t0 = time.monotonic()
        try:
            p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, str(SLUICE), *args],
                               capture_output=True, timeout=timeout, env=dict(os.environ, LC_ALL="C.UTF-8"))
        except subprocess.TimeoutExpired:
            return None, b"", b"timed out", time.monotonic() - t0, 0
        secs = time.monotonic() - t0
        lines = open(tf.name).read().split()
        return p.returncode, p.stdout, p.stderr, secs, int(lines[-1])


def delta_header(block, miniblocks, count, first):
    return C.uvarint(block) + C.uvarint(miniblocks) + C.uvarint(count) + C.uvarint(C.zigzag(first))


def test_crafted_file_is_valid_parquet(tmp_path):
    """The encoder is right: pyarrow reads a file it made (PLAIN and DELTA pages)."""
    vals = [5, -7, 1 << 40]
    body = b"".join(struct.pack("<q", v) for v in vals)
    f = tmp_path / "ok.parquet"
    f.write_bytes(C.one_chunk_file("x", C.INT64, C.page(C.DATA_PAGE, body, 3), 3))
    assert pq.read_table(f).column("x").to_pylist() == vals
    # DELTA_BINARY_PACKED: block 128, 4 miniblocks of 32; deltas 1 -> min delta 1, width 0.
    body = delta_header(128, 4, 5, 10) + C.uvarint(C.zigzag(1)) + bytes(4)
    f.write_bytes(C.one_chunk_file("x", C.INT64, C.page(C.DATA_PAGE, body, 5, C.DELTA_BINARY_PACKED,
                                                           codec=C.ZSTD), 5, codec=C.ZSTD))
    assert pq.read_table(f).column("x").to_pylist() == [10, 11, 12, 13, 14]
    rc, out, err, _, _ = run_wait4(["inspect", "--json", "--head", "5", str(f)])
    assert rc == 0, err


def test_many_small_pages_read_across_header_windows(tmp_path):
    """20,000 one-value pages (400 KB of chunk): page headers straddle the reader's 64 KiB
    windows; every value comes back as pyarrow reads it."""
    n = 20000
    pages = b"".join(C.page(C.DATA_PAGE, struct.pack("<q", i * 7919 - 10**6), 1) for i in range(n))
    f = tmp_path / "pages.parquet"
    f.write_bytes(C.one_chunk_file("x", C.INT64, pages, n))
    want = pq.read_table(f).column("x").to_pylist()
    assert len(want) == n
    rc, out, err, secs, _ = run_wait4(["inspect", "--json", "--head", str(n), str(f)])
    assert rc == 0, err
    import json
    rows = json.loads(out)["files"][0]["head"]["rows"]
    assert [int(r[0]) for r in rows] == want


def bomb_delta_zero_width():
    """DELTA_BINARY_PACKED declaring 2^40 values in blocks of 2^20 zero-width deltas: two bytes
    per block, so 2 MB of page (a few hundred bytes of zstd) hold 10^12 values."""
    blocks = (1 << 20)
    body = delta_header(1 << 20, 1, 1 << 40, 0) + b"\x00\x00" * blocks
    pages = C.page(C.DATA_PAGE, body, 10, C.DELTA_BINARY_PACKED, codec=C.ZSTD)
    return C.one_chunk_file("x", C.INT64, pages, 10, codec=C.ZSTD, encodings=(C.DELTA_BINARY_PACKED,))


def bomb_delta_length_zero_width():
    """The same lengths stream under DELTA_LENGTH_BYTE_ARRAY."""
    body = delta_header(1 << 20, 1, 1 << 40, 0) + b"\x00\x00" * (1 << 20)
    pages = C.page(C.DATA_PAGE, body, 10, C.DELTA_LENGTH_BYTE_ARRAY, codec=C.ZSTD)
    return C.one_chunk_file("s", C.BYTE_ARRAY, pages, 10, codec=C.ZSTD, encodings=(C.DELTA_LENGTH_BYTE_ARRAY,))


def bomb_dictionary_count():
    """A BOOLEAN dictionary page of 16 MiB of zeros declaring 2^27 entries (its bit count):
    2 GiB of entries for a chunk that declares 10 values."""
    n = 16 << 20
    d = C.page(C.DICTIONARY_PAGE, bytes(n), n * 8, C.PLAIN, codec=C.ZSTD, dict_page=True)
    data = C.page(C.DATA_PAGE, b"\x00" + C.uvarint(10 << 1), 10, C.RLE_DICTIONARY, codec=C.ZSTD)
    return C.one_chunk_file("b", C.BOOLEAN, d + data, 10, codec=C.ZSTD, dict_first=len(d),
                            encodings=(C.PLAIN, C.RLE_DICTIONARY))


def bomb_dictionary_count_huge():
    """A dictionary page declaring 2^31-1 entries of a 256 MiB zstd page of zeros."""
    n = 256 << 20
    d = C.page(C.DICTIONARY_PAGE, bytes(n), (1 << 31) - 1, C.PLAIN, codec=C.ZSTD, dict_page=True)
    data = C.page(C.DATA_PAGE, b"\x00" + C.uvarint(10 << 1), 10, C.RLE_DICTIONARY, codec=C.ZSTD)
    return C.one_chunk_file("b", C.BOOLEAN, d + data, 10, codec=C.ZSTD, dict_first=len(d),
                            encodings=(C.PLAIN, C.RLE_DICTIONARY))


def bomb_page_size():
    """One INT64 data page that inflates to 256 MiB (zstd of zeros) for 10 rows."""
    pages = C.page(C.DATA_PAGE, bytes(256 << 20), 10, C.PLAIN, codec=C.ZSTD)
    return C.one_chunk_file("x", C.INT64, pages, 10, codec=C.ZSTD)


def bomb_footer_columns():
    """A row group's columns list declaring a million ColumnChunks, each an empty struct
    (one stop byte): the list count is within the bytes left, the schema has one column."""
    n = 1 << 20
    rg_cols = bytes([0xF0 | C.T_STRUCT]) + C.uvarint(n) + bytes(n)
    # RowGroup { 1: columns (list<struct>) ...raw..., 2: total_byte_size 0, 3: num_rows 0 }
    rg = bytes([0x10 | C.T_LIST]) + rg_cols + bytes([0x10 | C.T_I64]) + C.uvarint(0) + \
        bytes([0x10 | C.T_I64]) + C.uvarint(0) + b"\x00"
    schema = C.enc_value(C.List(C.T_STRUCT, [{4: "schema", 5: C.I32(1)}, {1: C.I32(C.INT64), 3: C.I32(0), 4: "x"}]))
    footer = bytes([0x10 | C.T_I32]) + C.uvarint(C.zigzag(1)) + bytes([0x10 | C.T_LIST]) + schema + \
        bytes([0x10 | C.T_I64]) + C.uvarint(0) + bytes([0x10 | C.T_LIST]) + bytes([0x10 | C.T_STRUCT]) + rg + b"\x00"
    return b"PAR1" + footer + struct.pack("<I", len(footer)) + b"PAR1"


def bomb_footer_paths():
    """A column's path_in_schema list declaring as many names as there are bytes left."""
    n = 4 << 20
    meta = bytes([0x15]) + C.uvarint(C.zigzag(C.INT64)) + bytes([0x19, 0x05, 0x19, 0xF8]) + C.uvarint(n) + bytes(n) + b"\x00"
    cc = bytes([0x26]) + C.uvarint(0) + bytes([0x1c]) + meta + b"\x00"
    rg = bytes([0x19, 0x1c]) + cc + bytes([0x16, 0x00, 0x16, 0x00, 0x00])
    schema = C.enc_value(C.List(C.T_STRUCT, [{4: "schema", 5: C.I32(1)}, {1: C.I32(C.INT64), 3: C.I32(0), 4: "x"}]))
    footer = bytes([0x15, 0x02, 0x19]) + schema + bytes([0x16, 0x00, 0x19, 0x1c]) + rg + b"\x00"
    return b"PAR1" + footer + struct.pack("<I", len(footer)) + b"PAR1"


def bomb_many_pages():
    """A 2 MB chunk of empty index pages (a 5-byte header each): 400,000 pages to walk."""
    hdr = C.page_header(C.INDEX_PAGE, 0, 0)
    pages = hdr * ((2 << 20) // len(hdr))
    return C.one_chunk_file("x", C.INT64, pages, 10)


def bomb_text_amplification():
    """A dictionary of one 1 MiB string referenced by a million rows (one RLE run): a
    terabyte of text for --head from a few kilobytes."""
    s = b"A" * (1 << 20)
    d = C.page(C.DICTIONARY_PAGE, struct.pack("<I", len(s)) + s, 1, C.PLAIN, codec=C.ZSTD, dict_page=True)
    n = 1000000
    data = C.page(C.DATA_PAGE, b"\x00" + C.uvarint(n << 1), n, C.RLE_DICTIONARY, codec=C.ZSTD)
    return C.one_chunk_file("s", C.BYTE_ARRAY, d + data, n, codec=C.ZSTD, dict_first=len(d),
                            encodings=(C.PLAIN, C.RLE_DICTIONARY), extra={6: C.I32(C.UTF8)})


BOMBS = {
    "delta-zero-width": bomb_delta_zero_width,
    "delta-length-zero-width": bomb_delta_length_zero_width,
    "dictionary-count": bomb_dictionary_count,
    "dictionary-count-huge": bomb_dictionary_count_huge,
    "page-size": bomb_page_size,
    "footer-columns": bomb_footer_columns,
    "footer-paths": bomb_footer_paths,
    "many-pages": bomb_many_pages,
    "text-amplification": bomb_text_amplification,
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bomb_exits_8_fast_and_small(tmp_path, name):
    f = tmp_path / f"{name}.parquet"
    f.write_bytes(BOMBS[name]())
    for args in (["inspect", "--head", "1000000", str(f)], ["inspect", "--json", "--head", "100", str(f)]):
        rc, out, err, secs, rss = run_wait4(args, timeout=20)
        msg = err.decode(errors="replace")
        assert rc == 8, (name, args, rc, msg[-500:])
        assert f.name in msg and "error:" in msg, msg
        assert secs < TIME_LIMIT_S, (name, args, secs)
        assert rss < RSS_LIMIT_KB, (name, args, rss)


def test_bombs_are_small_files(tmp_path):
    """The point of a bomb: the file is small next to what it asks for."""
    sizes = {n: len(b()) for n, b in BOMBS.items()}
    for n in ("delta-zero-width", "delta-length-zero-width", "dictionary-count", "page-size",
              "text-amplification"):
        assert sizes[n] < 64 << 10, (n, sizes[n])


def footer_row_groups(n=100000):
    """A 1 MB footer of n empty row groups (10 bytes each), valid for pyarrow."""
    rg = C.enc_struct({1: C.List(C.T_STRUCT, [{2: C.I64(0)}]), 2: C.I64(0), 3: C.I64(0)})
    rgs = bytes([0xF0 | C.T_STRUCT]) + C.uvarint(n) + rg * n
    schema = C.enc_value(C.List(C.T_STRUCT, [{4: "schema", 5: C.I32(1)}, {1: C.I32(C.INT64), 3: C.I32(0), 4: "x"}]))
    footer = bytes([0x15]) + C.uvarint(C.zigzag(1)) + bytes([0x19]) + schema + bytes([0x16]) + C.uvarint(0) + \
        bytes([0x19]) + rgs + b"\x00"
    return b"PAR1" + footer + struct.pack("<I", len(footer)) + b"PAR1"


def test_many_row_groups_are_written_one_at_a_time(tmp_path):
    """100,000 row groups in a 1 MB footer: listed whole (pyarrow counts the same), each
    row group rendered and freed in turn, so memory stays far below the ~136 MB that one
    JSON document of them took."""
    f = tmp_path / "rgs.parquet"
    f.write_bytes(footer_row_groups())
    assert pq.ParquetFile(f).metadata.num_row_groups == 100000
    for args in (["inspect", str(f)], ["inspect", "--json", str(f)]):
        rc, out, err, secs, rss = run_wait4(args)
        assert rc == 0, err
        assert secs < TIME_LIMIT_S and rss < 64 * 1024, (args, secs, rss)
        if "--json" in args:
            import json
            assert len(json.loads(out)["files"][0]["row_groups"]) == 100000
        else:
            assert out.decode().count("\nrow group ") == 100000


ESC_STRINGS = ["\x1b]0;pwned\x07", "\x1b[2J\x1b[31mred", "tab\there", "bell\x07", "del\x7f", "c1\u009b31m",
               "bidi\u202eevil", "nl\nline"]


def test_text_output_escapes_control_characters(tmp_path):
    """Column names, key-value metadata, created_by and values from the file reach the
    terminal with control characters escaped; --json carries them exactly."""
    vals = ESC_STRINGS
    body = b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in vals)
    f = tmp_path / "esc.parquet"
    name = "col\x1b[1mX"
    f.write_bytes(C.one_chunk_file(name, C.BYTE_ARRAY, C.page(C.DATA_PAGE, body, len(vals)), len(vals),
                                   extra={6: C.I32(C.UTF8)}, kv=[("k\x1b[5m", "v\x1b]8;;http://x\x07y"),
                                                                  ("sluice.origin." + name, "varchar\x9b")],
                                   created_by="me\x1b[0m"))
    # The oracle: pyarrow reads the same strings back.
    t = pq.read_table(f)
    assert t.column(name).to_pylist() == vals
    rc, out, err, _, _ = run_wait4(["inspect", "--head", "100", str(f)])
    assert rc == 0, err
    text = out.decode()
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f or c == "\u202e"]
    assert not bad, (bad, text)
    # Each string is still recognisable, escaped.
    assert "\\x1b]0;pwned\\x07" in text
    assert "col\\x1b[1mX" in text
    assert "me\\x1b[0m" in text
    assert "nl\\nline" in text and "tab\\there" in text
    assert "\\u202e" in text and "\\u009b" in text
    # One line per row: no value breaks the layout.
    head = text[text.index("head:"):].splitlines()
    assert len(head) == 2 + len(vals), head
    rc, out, err, _, _ = run_wait4(["inspect", "--json", "--head", "100", str(f)])
    import json
    doc = json.loads(out)["files"][0]
    assert [r[0] for r in doc["head"]["rows"]] == vals
    assert doc["schema"][1]["name"] == name
    assert doc["created_by"] == "me\x1b[0m"


@pytest.mark.parametrize("as_json", [False, True])
def test_output_error_is_reported(tmp_path, as_json):
    """`sluice inspect f > /dev/full` fails, says so, exits non-zero."""
    f = tmp_path / "ok.parquet"
    f.write_bytes(C.one_chunk_file("x", C.INT64, C.page(C.DATA_PAGE, struct.pack("<q", 1), 1), 1))
    args = [str(SLUICE), "inspect", *(["--json"] if as_json else []), str(f)]
    with open("/dev/full", "w") as full:
        p = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "error" in p.stderr and ("No space left" in p.stderr or "output" in p.stderr), p.stderr
    assert len(p.stderr.splitlines()) == 1, p.stderr
