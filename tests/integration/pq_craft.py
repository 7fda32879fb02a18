"""Hand-made Parquet bytes for hostile-input tests: a thrift compact protocol encoder
(thrift's doc/specs/thrift-compact-protocol.md) and the few Parquet structures
(parquet-format's parquet.thrift) needed to build a flat file field by field, so that
a test can declare any count, size or encoding a real writer never would.

Independent of sluice's code: only the specs above and Python's standard library
(pyarrow.compress for zstd pages)."""
import struct

import pyarrow as pa

# Compact protocol type ids.
T_TRUE, T_FALSE, T_BYTE, T_I16, T_I32, T_I64, T_DOUBLE, T_BINARY, T_LIST, T_SET, T_MAP, T_STRUCT = range(1, 13)

# parquet.thrift enums used here.
BOOLEAN, INT32, INT64, INT96, FLOAT, DOUBLE, BYTE_ARRAY, FIXED = range(8)
REQUIRED, OPTIONAL = 0, 1
PLAIN, PLAIN_DICTIONARY, RLE, DELTA_BINARY_PACKED, RLE_DICTIONARY = 0, 2, 3, 5, 8
DELTA_LENGTH_BYTE_ARRAY = 6
UNCOMPRESSED, SNAPPY, GZIP, ZSTD = 0, 1, 2, 6
DATA_PAGE, INDEX_PAGE, DICTIONARY_PAGE = 0, 1, 2
UTF8 = 0


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(n):
    return (n << 1) ^ (n >> 63)


class I32(int):
    pass


class I64(int):
    pass


class Bin(bytes):
    pass


class List:
    """A list of elements of one compact type; `count` may lie about len(items)."""

    def __init__(self, etype, items, count=None):
        self.etype, self.items = etype, items
        self.count = len(items) if count is None else count


def enc_value(v):
    if isinstance(v, bool):
        raise TypeError("booleans are encoded in the field header")
    if isinstance(v, I32) or isinstance(v, I64):
        return uvarint(zigzag(int(v)))
    if isinstance(v, (Bin, bytes)):
        return uvarint(len(v)) + bytes(v)
    if isinstance(v, str):
        b = v.encode()
        return uvarint(len(b)) + b
    if isinstance(v, dict):
        return enc_struct(v)
    if isinstance(v, List):
        n = v.count
        head = bytes([(n << 4) | v.etype]) if n < 15 else bytes([0xF0 | v.etype]) + uvarint(n)
        return head + b"".join(enc_value(x) for x in v.items)
    raise TypeError(type(v))


def type_of(v):
    if v is True:
        return T_TRUE
    if v is False:
        return T_FALSE
    if isinstance(v, I32):
        return T_I32
    if isinstance(v, I64):
        return T_I64
    if isinstance(v, (Bin, bytes, str)):
        return T_BINARY
    if isinstance(v, dict):
        return T_STRUCT
    if isinstance(v, List):
        return T_LIST
    raise TypeError(type(v))


def enc_struct(fields):
    """fields: {field_id: value}; written in increasing id order, short-form headers."""
    out = bytearray()
    last = 0
    for fid in sorted(fields):
        v = fields[fid]
        t = type_of(v)
        delta = fid - last
        out += bytes([(delta << 4) | t]) if 0 < delta <= 15 else bytes([t]) + uvarint(zigzag(fid))
        if t not in (T_TRUE, T_FALSE):
            out += enc_value(v)
        last = fid
    out.append(0)
    return bytes(out)


def page_header(ptype, usize, csize, num_values=None, encoding=PLAIN, dict_page=False):
    h = {1: I32(ptype), 2: I32(usize), 3: I32(csize)}
    if dict_page:
        h[7] = {1: I32(num_values), 2: I32(encoding)}
    elif ptype == DATA_PAGE:
        h[5] = {1: I32(num_values), 2: I32(encoding), 3: I32(RLE), 4: I32(RLE)}
    return enc_struct(h)


def page(ptype, body, num_values, encoding=PLAIN, codec=UNCOMPRESSED, dict_page=False, usize=None):
    """A page header and its body, compressed with `codec` (UNCOMPRESSED or ZSTD)."""
    raw = body
    if codec == ZSTD:
        body = pa.compress(body, codec="zstd", asbytes=True)
    elif codec != UNCOMPRESSED:
        raise ValueError(codec)
    hdr = page_header(ptype, len(raw) if usize is None else usize, len(body), num_values, encoding, dict_page)
    return hdr + body


def column_meta(ptype, name, codec, num_values, chunk_len, data_off, dict_off=None, encodings=(PLAIN,)):
    m = {1: I32(ptype), 2: List(T_I32, [I32(e) for e in encodings]), 3: List(T_BINARY, [name]),
         4: I32(codec), 5: I64(num_values), 6: I64(chunk_len), 7: I64(chunk_len), 9: I64(data_off)}
    if dict_off is not None:
        m[11] = I64(dict_off)
    return m


def file_bytes(columns, num_rows, kv=None, created_by="pq_craft", chunks=b"", row_groups=None):
    """A whole file: PAR1, the chunk bytes, the footer. columns: [(name, ptype, repetition,
    extra schema fields)]; row_groups: a list of RowGroup dicts (already pointing into
    `chunks`, which start at offset 4)."""
    schema = [{4: "schema", 5: I32(len(columns))}]
    for name, ptype, rep, extra in columns:
        el = {1: I32(ptype), 3: I32(rep), 4: name}
        el.update(extra or {})
        schema.append(el)
    meta = {1: I32(1), 2: List(T_STRUCT, schema), 3: I64(num_rows), 4: List(T_STRUCT, row_groups or []),
            6: created_by}
    if kv:
        meta[5] = List(T_STRUCT, [{1: k, 2: v} for k, v in kv])
    footer = enc_struct(meta)
    return b"PAR1" + chunks + footer + struct.pack("<I", len(footer)) + b"PAR1"


def one_chunk_file(name, ptype, pages, num_rows, codec=UNCOMPRESSED, num_values=None, dict_first=False,
                   rep=REQUIRED, extra=None, encodings=(PLAIN,), kv=None, created_by="pq_craft"):
    """A file of one column and one row group whose chunk is `pages` (bytes) at offset 4."""
    nv = num_rows if num_values is None else num_values
    meta = column_meta(ptype, name, codec, nv, len(pages), 4, 4 if dict_first else None, encodings)
    if dict_first:
        meta[9] = I64(4 + dict_first)  # dict_first: the dictionary page's length
    rg = {1: List(T_STRUCT, [{2: I64(4), 3: meta}]), 2: I64(len(pages)), 3: I64(num_rows)}
    return file_bytes([(name, ptype, rep, extra)], num_rows, kv=kv, created_by=created_by, chunks=pages,
                      row_groups=[rg])
