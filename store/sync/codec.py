"""How raw messages are stored: separately compressed chunks, zstandard level 1."""

from __future__ import annotations

import threading

RAW_CHUNK = 1 << 20  # raw bytes per stored (separately compressed) chunk
CODEC = "zstd"  # zstandard level 1: ~10x faster than zlib level 1 and a little smaller
ZSTD_LEVEL = 1

_local = threading.local()  # zstandard compressors must not be shared between threads


def compress(data: bytes) -> bytes:
    """One chunk compressed with the store's codec."""
    comp = getattr(_local, "compressor", None)
    if comp is None:
        import zstandard

        comp = _local.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return comp.compress(data)


def compress_chunks(raw: bytes) -> list[bytes]:
    """The raw message as separately compressed chunks of at most RAW_CHUNK input bytes."""
    if len(raw) <= RAW_CHUNK:
        return [compress(raw)]
    return [compress(raw[i : i + RAW_CHUNK]) for i in range(0, len(raw), RAW_CHUNK)]


def compress_many(raws: list[bytes]) -> list[tuple[bytes, ...]]:
    """compress_chunks of each message, in one call into zstd for all of them when it offers that: the
    GIL is then released once per window instead of once per message (a thread that compresses while
    another parses waits for the GIL each time it comes back). Same frames as compress()."""
    pieces = [raw[i : i + RAW_CHUNK] for raw in raws for i in range(0, max(len(raw), 1), RAW_CHUNK)]
    comp = getattr(_local, "compressor", None)
    if comp is None:
        compress(b"")
        comp = _local.compressor
    multi = getattr(comp, "multi_compress_to_buffer", None)
    if multi is None or not pieces:
        frames = [compress(p) for p in pieces]
    else:
        frames = [segment.tobytes() for segment in multi(pieces, threads=1)]
    out: list[tuple[bytes, ...]] = []
    pos = 0
    for raw in raws:
        n = max(1, -(-len(raw) // RAW_CHUNK))
        out.append(tuple(frames[pos : pos + n]))
        pos += n
    return out


def decompress(codec: str, data: bytes) -> bytes:
    """One stored chunk back as raw bytes."""
    if codec == CODEC:
        import zstandard

        return zstandard.ZstdDecompressor().decompress(data)
    if codec == "zlib":
        import zlib

        return zlib.decompress(data)
    if codec == "none":
        return data
    raise ValueError(f"unknown raw codec {codec!r}")
