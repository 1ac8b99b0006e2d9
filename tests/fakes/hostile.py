"""Hostile documents for the upload tests: a PDF bomb (many pages, one compressed content
stream), a plain PDF of many pages, and a huge text file."""

from __future__ import annotations

import zlib


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF file of `objects` (numbered from 1; the first is the catalog) with its xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_pages(pages: int, content: bytes, *, compress: bool = True, shared: bool = True) -> bytes:
    """A PDF of `pages` pages whose content is `content` (PDF operators). `shared`: every page
    points at the one content stream (objects 1-3 catalog, pages, font; 4 the stream)."""
    stream = zlib.compress(content, 9) if compress else content
    filter_ = b" /Filter /FlateDecode" if compress else b""
    stream_obj = b"<< /Length %d%s >>\nstream\n" % (len(stream), filter_) + stream + b"\nendstream"
    first_page = 5 if shared else 4 + pages
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    objects += [stream_obj] * (1 if shared else pages)
    for i in range(pages):
        contents = 4 if shared else 4 + i
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R"
            b" >> >> /Contents %d 0 R >>" % contents
        )
    return pdf_file(objects)


def pdf_bomb(pages: int = 20, lines: int = 2_700) -> bytes:
    """A few KB: `pages` pages sharing one deflated stream of `lines` text-showing operators
    (the issue's 3.9 KB file took 6.2 s of CPU and gave 1.28 M characters)."""
    body = b"BT /F1 1 Tf 10 780 Td 1 TL " + b"(Relay Relay Relay Relay) ' " * lines + b"ET"
    return pdf_pages(pages, body)


def text_bomb(megabytes: int = 10) -> bytes:
    """A plain-text file of `megabytes` MB of sentences (~15k passages)."""
    sentence = b"Relay routes every call to the right agent in seconds. "
    return sentence * (megabytes * 1024 * 1024 // len(sentence))
