"""A multipart form read with limits that hold while the body streams in.

Starlette's parser keeps each file in a ``SpooledTemporaryFile`` (memory up to 1 MiB,
then an anonymous temporary file that the system removes on close) but sets no bound on
a file's size. This one counts each file's bytes as they arrive and stops at the limit,
and counts the whole body too, so a client cannot make the api-server store more than
``max_files`` × ``max_file_bytes``; on any failure every spooled file is closed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.datastructures import FormData, Headers
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

FORM_OVERHEAD = 64 * 1024  # bytes: part headers and the year field around the files


class TooLarge(MultiPartException):
    """The body or one of its files exceeds its limit."""


class _BoundedParser(MultiPartParser):
    def __init__(
        self, headers: Headers, stream: AsyncGenerator[bytes, None], *, max_files: int, max_file_bytes: int
    ) -> None:
        super().__init__(headers, stream, max_files=max_files, max_fields=8)
        self.max_file_bytes = max_file_bytes
        self._sizes: dict[int, int] = {}

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current_part
        if part.file is not None:
            size = self._sizes.get(id(part), 0) + end - start
            if size > self.max_file_bytes:
                raise TooLarge(f"file {part.file.filename!r} exceeds {self.max_file_bytes} bytes")
            self._sizes[id(part)] = size
        super().on_part_data(data, start, end)


async def _bounded(stream: AsyncGenerator[bytes, None], limit: int) -> AsyncGenerator[bytes, None]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"request body exceeds {limit} bytes")
        yield chunk


def body_limit(max_files: int, max_file_bytes: int) -> int:
    return max_files * max_file_bytes + FORM_OVERHEAD


async def read_form(request: Request, max_files: int, max_file_bytes: int) -> FormData:
    """The request's multipart form; ``TooLarge`` or ``MultiPartException`` when it breaks a
    limit or is malformed. The caller closes the form (``await form.close()``)."""
    limit = body_limit(max_files, max_file_bytes)
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge(f"declared body of {declared} bytes exceeds {limit}")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise MultiPartException("not a multipart/form-data body")
    parser = _BoundedParser(
        request.headers, _bounded(request.stream(), limit), max_files=max_files, max_file_bytes=max_file_bytes
    )
    return await parser.parse()
