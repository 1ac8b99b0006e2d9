"""Knowledge-base documents: text extraction (Markdown, plain text, PDF) and chunking.

Chunks are passages of roughly 60-120 words that never cross a heading; each keeps its heading
path ("Pricing and discounts > Discounts") so a passage read on its own still says what it is
about. A stored chunk's text is that path on a first line starting with "# ", then the body.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from wingman.errors import BadInput, TooLarge

SUPPORTED = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
}
_BY_CONTENT_TYPE = {
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/plain": ".txt",
    "application/pdf": ".pdf",
}
MIN_WORDS = 60
MAX_WORDS = 120


@dataclass(frozen=True)
class ParseLimits:
    """Caps on what one upload may cost to read (a 4 KB PDF can point 20 pages at one
    compressed stream that inflates to megabytes of text): over any of them, TooLarge."""

    max_pages: int = 500
    max_characters: int = 1_000_000
    max_chunks: int = 2_000
    # decompressed page content (operators, not text), summed over pages: a stream shared by
    # many pages counts once per page, which is what extraction costs
    max_content_bytes: int = 32 * 1024 * 1024


UNLIMITED = ParseLimits(max_pages=10**9, max_characters=10**12, max_chunks=10**9, max_content_bytes=10**15)

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_MD_INLINE = re.compile(r"(\*\*|__|`)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")


@dataclass(frozen=True)
class Chunk:
    heading: str  # "Title > Section", may be empty
    body: str

    @property
    def text(self) -> str:
        """The stored form: heading line then body."""
        return f"# {self.heading}\n{self.body}" if self.heading else self.body

    @property
    def embedding_text(self) -> str:
        return f"{self.heading}: {self.body}" if self.heading else self.body


def split_stored(text: str) -> Chunk:
    """Inverse of Chunk.text."""
    if text.startswith("# "):
        heading, _, body = text[2:].partition("\n")
        return Chunk(heading=heading.strip(), body=body.strip())
    return Chunk(heading="", body=text.strip())


def file_kind(filename: str, content_type: str | None) -> str:
    """The extension we treat the file as (.md, .txt or .pdf), or BadInput."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in SUPPORTED:
        return ".md" if suffix == ".markdown" else suffix
    base_type = (content_type or "").split(";")[0].strip().lower()
    if not suffix and base_type in _BY_CONTENT_TYPE:
        return _BY_CONTENT_TYPE[base_type]
    raise BadInput(
        f"unsupported file type {suffix or base_type or 'unknown'!r}: upload .md, .txt or .pdf",
        code="unsupported_type",
    )


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadInput("the file is not valid text (UTF-8 expected)", code="bad_encoding")


def _too_much_text(limits: ParseLimits) -> TooLarge:
    return TooLarge(
        f"the document has more than {limits.max_characters} characters of text: split it",
        code="too_much_text",
    )


def _content_key(page: Any) -> str | None:
    """What a page's text depends on: its content stream objects (by object number) and its
    resources (fonts); None when its content is not made of indirect objects."""
    contents = page.raw_get("/Contents") if "/Contents" in page else None
    refs = contents if isinstance(contents, list) else [contents]
    numbers = [getattr(ref, "idnum", None) for ref in refs]
    if not numbers or None in numbers:
        return None
    resources = page.raw_get("/Resources") if "/Resources" in page else None
    return f"{numbers}|{resources!r}"


def _pdf_text(data: bytes, limits: ParseLimits) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise BadInput("the PDF is encrypted; upload an unprotected copy", code="bad_pdf")
        if len(reader.pages) > limits.max_pages:
            raise TooLarge(
                f"the PDF has {len(reader.pages)} pages; at most {limits.max_pages} are read",
                code="too_many_pages",
            )
        content_bytes = 0
        for page in reader.pages:
            contents = page.get_contents()
            content_bytes += len(contents.get_data()) if contents is not None else 0
            if content_bytes > limits.max_content_bytes:
                raise TooLarge(
                    "the PDF's pages hold more content than can be read: split it", code="too_much_content"
                )
        pages: list[str] = []
        characters = 0
        seen: dict[str, str] = {}  # page content (stream and resources) -> its text
        for page in reader.pages:
            # a bomb points many pages at one stream: read it once (its text is the same)
            key = _content_key(page)
            text = seen.get(key) if key is not None else None
            if text is None:
                text = page.extract_text() or ""
                if key is not None:
                    seen[key] = text
            characters += len(text)
            if characters > limits.max_characters:
                raise _too_much_text(limits)
            pages.append(text)
    except BadInput:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise BadInput("the PDF could not be read", code="bad_pdf") from e
    # pypdf breaks lines at the page width: a line ending without punctuation continues
    text = "\n\n".join(pages)
    text = re.sub(r"(?<![.!?:\n])\n(?!\n)", " ", text)
    return text


def extract_text(
    filename: str, data: bytes, content_type: str | None = None, *, limits: ParseLimits = UNLIMITED
) -> tuple[str, str]:
    """(kind, text) of an uploaded file; BadInput for unsupported types or no text at all,
    TooLarge past `limits`."""
    kind = file_kind(filename, content_type)
    text = _pdf_text(data, limits) if kind == ".pdf" else _decode(data)
    if len(text) > limits.max_characters:
        raise _too_much_text(limits)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not re.search(r"\w{2,}", text):
        raise BadInput("no text found in the file", code="empty_document")
    return kind, text


def _clean_inline(text: str) -> str:
    return _MD_INLINE.sub("", _MD_LINK.sub(r"\1", text)).strip()


def _blocks(text: str, markdown: bool) -> list[tuple[list[str], str]]:
    """Paragraphs and list items with the heading path they sit under."""
    path: list[str] = []
    out: list[tuple[list[str], str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            joined = " ".join(p.strip() for p in para if p.strip())
            if joined:
                out.append((list(path), _clean_inline(joined) if markdown else joined))
            para.clear()

    for line in text.split("\n"):
        m = _HEADING.match(line) if markdown else None
        if m:
            flush()
            level = len(m.group(1))
            path[level - 1 :] = []
            while len(path) < level - 1:
                path.append("")
            path.append(_clean_inline(m.group(2)))
            continue
        stripped = line.strip()
        if not stripped:
            flush()
        elif markdown and re.match(r"^([-*+]|\d+[.)])\s+", stripped):
            flush()  # each list item starts a new block
            para.append(stripped)
        else:
            para.append(stripped)
    flush()
    return out


def _split_long(text: str, max_words: int) -> list[str]:
    words = text.split()
    if len(words) <= max_words:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        n = len(sentence.split())
        if current and len(" ".join(current).split()) + n > max_words:
            pieces.append(" ".join(current))
            current = []
        if n > max_words:  # one very long sentence: cut on words
            sw = sentence.split()
            for i in range(0, len(sw), max_words):
                pieces.append(" ".join(sw[i : i + max_words]))
            continue
        current.append(sentence)
    if current:
        pieces.append(" ".join(current))
    return pieces


def chunk_text(
    text: str,
    *,
    markdown: bool = True,
    title: str = "",
    min_words: int = MIN_WORDS,
    max_words: int = MAX_WORDS,
) -> list[Chunk]:
    """Split a document into heading-scoped passages of about min_words..max_words words."""
    chunks: list[Chunk] = []
    current: list[str] = []
    current_heading: str | None = None

    def heading_of(path: list[str]) -> str:
        parts = [p for p in path if p]
        if title and (not parts or parts[0] != title):
            parts.insert(0, title)
        return " > ".join(parts)

    def flush() -> None:
        if current and current_heading is not None:
            chunks.append(Chunk(heading=current_heading, body=" ".join(current)))
        current.clear()

    for path, block in _blocks(text, markdown):
        heading = heading_of(path)
        if heading != current_heading:
            flush()
            current_heading = heading
        for piece in _split_long(block, max_words):
            n = len(piece.split())
            size = len(" ".join(current).split())
            if current and size >= min_words and size + n > max_words:
                flush()
            elif current and size + n > max_words * 1.25:
                flush()
            current.append(piece)
    flush()
    return [c for c in chunks if c.body]


def document_title(text: str, filename: str) -> str:
    """The first Markdown H1, else the file name without extension."""
    for line in text.split("\n"):
        m = _HEADING.match(line)
        if m and len(m.group(1)) == 1:
            return _clean_inline(m.group(2))
    return PurePath(filename).stem.replace("-", " ").replace("_", " ").strip() or filename
