"""What a provider can do, declared on its class so callers ask instead of guessing.

Callers test `Capability.X in provider.CAPABILITIES` rather than isinstance
checks or probing for methods: a new provider states what it offers in one
place, and the daemon finds every provider that can, say, re-run a ComfyUI
graph without knowing its class.
"""
from __future__ import annotations

from enum import Enum


class Capability(str, Enum):
    GENERATE = "generate"              # the job trio: submit / status / result (and generate())
    SYNCHRONOUS = "synchronous"        # generate() is one call that returns the result; no job to poll
    VISION = "vision"                  # rate_image(): a vision-language model's rating
    QUALITY = "quality"                # measure_quality(): a no-reference quality metric
    COMFYUI_GRAPH = "comfyui_graph"    # runs a ComfyUI API graph as given (params {"graph": ...})
    A1111_PAYLOAD = "a1111_payload"    # runs an A1111 txt2img/img2img payload as given
    INPUT_IMAGES = "input_images"      # takes input images (uploads, img2img init images)
    LOCAL = "local"                    # the user's own machine: no key, no cost
