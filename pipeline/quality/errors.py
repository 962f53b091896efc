"""The one way the quality stage says no."""


class AssessmentError(Exception):
    """The file cannot be assessed (not decodable, damaged, too small, too big,
    no video stream, too slow); the message names the file and the reason in
    terms a user can act on. File-system errors stay OSError."""
