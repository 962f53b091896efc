"""Which tool slug a product or company name in a provenance record stands for.

C2PA claim generators, softwareAgents, signer names, XMP CreatorTool and credit
lines, and TC260 producers all name the generator in free text
("Adobe_Firefly", "Titan Image Generator G1", "Made with Google AI"). One table
maps them to the canonical slugs of shared/docs/ai-metadata-formats.md, so the
C2PA, IPTC and AIGC detectors agree on names.
"""
from __future__ import annotations

import re

# Order matters: the first pattern that matches wins, so specific products
# come before the companies that also sign other things.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (slug, re.compile(pattern, re.IGNORECASE))
    for slug, pattern in (
        ("openai", r"\b(chatgpt|gpt-?4o|gpt-?image|dall[\s·._-]?e|sora|openai)\b"),
        ("firefly", r"\bfirefly\b|adobe_firefly"),
        ("flux", r"black[\s_-]*forest[\s_-]*labs|\bbfl\b|\bflux\b"),
        ("amazon", r"amazon[\s_-]*bedrock|\btitan[\s_-]*image|\bamazon[\s_-]*nova\b"),
        ("microsoft", r"microsoft[\s_-]*responsible[\s_-]*ai|bing[\s_-]*image[\s_-]*creator|microsoft[\s_-]*designer"),
        ("google", r"google[\s_-]*(c2pa|generative[\s_-]*ai|ai\b|deepmind)|\b(imagen|gemini|veo)\b|synthid"),
        ("midjourney", r"\bmidjourney\b|\bniji\b"),
        ("ideogram", r"\bideogram\b"),
        ("leonardo", r"\bleonardo(\.ai|[\s_-]*ai)\b"),
        ("krea", r"\bkrea\b"),
        ("runway", r"\brunway(ml)?\b"),
        ("luma", r"\bluma[\s_-]*(ai|labs|dream[\s_-]*machine)\b"),
        ("pika", r"\bpika([\s_-]*labs|\.art)?\b"),
        ("kling", r"\bkling\b|kuaishou|可灵|快手"),
        ("hailuo", r"\bhailuo\b|\bminimax\b|海螺"),
        ("hedra", r"\bhedra\b"),
        ("grok", r"\bgrok\b|\bx\.?ai\b"),
        ("samsung", r"\bsamsung\b|galaxy[\s_-]*ai"),
    )
)


def tool_from_name(text: object) -> str | None:
    """The tool slug a free-text product/company name refers to, or None."""
    if not isinstance(text, str) or not text.strip():
        return None
    sample = text[:2000]
    for slug, pattern in _PATTERNS:
        if pattern.search(sample):
            return slug
    return None
