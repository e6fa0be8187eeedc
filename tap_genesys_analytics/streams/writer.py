"""The Singer message writer: singer-sdk's msgspec writer, flushed per STATE, not per RECORD.

The SDK's writers flush stdout after every message: one system call per record when the
target reads from a pipe. Flushing before each non-RECORD message keeps every STATE behind
the records it covers, which is all a target needs; records after the last STATE are read
again on resume anyway.
"""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.encoding.simple import Message


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec serialisation; stdout flushed before every message that is not a RECORD."""

    def write_message(self, message: Message) -> None:
        """Write one message; flush unless it is a RECORD."""
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()
