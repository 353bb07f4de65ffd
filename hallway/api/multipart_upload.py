"""One file read out of a multipart/form-data body while the body streams in.

Starlette's form parser spools whole files before the route sees them; this reads the body
chunk by chunk with the same parser underneath (python-multipart) and hands the file's
bytes on as they arrive, so the size limit cuts an upload off mid-stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from hallway.domain.errors import InvalidInput, TooLarge, UnsupportedMediaType

ONE_FILE_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        }
    },
}
"""The OpenAPI request body of a route that reads one MultipartUpload named `file` (the
route reads the stream itself, so FastAPI cannot describe it)."""


class MultipartUpload:
    """The first part named `field` that carries a filename (later parts are not read)."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        content_type: str,
        declared_size: int | None,
        *,
        field: str,
        max_body_bytes: int,
    ) -> None:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise UnsupportedMediaType(
                "send the file as multipart/form-data", code="multipart_required"
            )
        self.declared_size = declared_size
        self._body = body
        self._field = field.encode()
        self._max_body_bytes = max_body_bytes
        self._read = 0
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._filename: str | None = None
        self._in_file = False
        self._file_ended = False
        self._data: list[bytes] = []

    async def filename(self) -> str:
        while self._filename is None:
            if not await self._feed():
                raise InvalidInput(
                    "send the file in the multipart field `file`", code="missing_file", field="file"
                )
        return self._filename

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            while self._data:
                yield self._data.pop(0)
            if self._file_ended:
                return
            if not await self._feed():
                raise InvalidInput(
                    "the request body ended before the file did", code="malformed_multipart"
                )

    async def _feed(self) -> bool:
        """Parse the next chunk of the body; False once the body is exhausted."""
        chunk = await anext(self._body, None)
        if chunk is None:
            return False
        self._read += len(chunk)
        if self._read > self._max_body_bytes:
            raise TooLarge(
                f"the request body may have at most {self._max_body_bytes} bytes",
                code="file_too_large",
                limit=self._max_body_bytes,
            )
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise InvalidInput(
                f"the multipart body is malformed: {exc}", code="malformed_multipart"
            ) from None
        return True

    # --- parser callbacks (synchronous, called from inside write) ---------------------------

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        wanted = options.get(b"name") == self._field and b"filename" in options
        if wanted and self._filename is None:
            self._filename = options[b"filename"].decode("utf-8", "replace")
            self._in_file = True

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._data.append(data[start:end])

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_ended = True
