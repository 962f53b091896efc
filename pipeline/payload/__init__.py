"""Walkers that find the media payload inside an image container.

Each module walks one format's structure in a single forward pass over a
`HashingReader` and feeds only the pixel-defining bytes to a sink; everything
else (text chunks, EXIF, XMP, ICC profiles, comments) is skipped. identity.py
hashes what they feed; integrity.py reuses the JPEG walker's findings.
"""
