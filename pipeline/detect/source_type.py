"""IPTC Digital Source Type: the one vocabulary that says "a model made this".

C2PA actions and XMP (Iptc4xmpExt:DigitalSourceType) both carry a term from
http://cv.iptc.org/newscodes/digitalsourcetype/. Only the two "trained
algorithmic" terms mean generative AI; `algorithmicMedia` (pure code, e.g.
fractals), `digitalCapture` (a camera), `compositeSynthetic` and the rest do
not, which is why a signed camera photo is not an AI image.
"""
from __future__ import annotations

import re

GENERATIVE = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})

# Writers use http:// (the IPTC spelling) and https:// (common in the wild);
# a few write the bare term. Any other host is not the IPTC vocabulary.
_TERM_RE = re.compile(
    r"^\s*(?:https?://cv\.iptc\.org/newscodes/digitalsourcetype/)?([A-Za-z]+)/?\s*$"
)


def source_type_term(value: object) -> str | None:
    """The bare IPTC term ("trainedAlgorithmicMedia") of a URI or term, else None."""
    if not isinstance(value, str) or len(value) > 200:
        return None
    match = _TERM_RE.match(value)
    return match.group(1) if match else None


def is_generative(value: object) -> bool:
    """True when the digital source type says a trained model made the content."""
    return source_type_term(value) in GENERATIVE
