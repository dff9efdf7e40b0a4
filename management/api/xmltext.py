"""Text for XML 1.0 replies (CloudStack, S3, EC2): the characters XML 1.0 cannot carry at all, not even as a
character reference (C0 controls other than tab/LF/CR, lone surrogates, U+FFFE, U+FFFF), become U+FFFD, so a
reply that echoes hostile input or lists an odd stored name stays a document clients can parse."""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_chars(text: str) -> str:
    """Text (or a whole document) with every character XML 1.0 forbids replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def xml_escape(text: str) -> str:
    """Character data for an element: markup escaped, forbidden characters replaced."""
    return escape(xml_chars(text))
