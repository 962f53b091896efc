"""The one verdict the organizer quarantines on: "this media cannot be read".

Identity and integrity both reach it (a PNG without image data has no content
id, a JPEG with damaged scans fails the check), so it lives apart from either.
"""
from __future__ import annotations


class UnreadableMedia(Exception):
    """The file is not readable media; `reason` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaTimeout(UnreadableMedia):
    """ffmpeg did not finish in time. The file may be fine on a less busy machine, so retry before quarantining."""
