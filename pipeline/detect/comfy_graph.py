"""Read generation parameters out of a ComfyUI API graph by walking it.

The graph is {"node id": {"class_type": ..., "inputs": {name: value | [node_id, slot]}}}.
Node ids are arbitrary, so the walk starts at the output node, finds the
sampler that produced the image, then follows its links: conditioning back to
the text encoders, model back through LoRA loaders to the checkpoint, latent
back to the empty-latent size. Every walk is bounded by a visited set and a
node budget, so cyclic or enormous graphs cost at most MAX_VISITS steps.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from alice.pipeline.detect.coerce import to_float, to_int, to_str
from alice.pipeline.generation import Generation

MAX_VISITS = 2_000          # nodes one walk may visit
MAX_CANDIDATES = 20         # output nodes / samplers considered when choosing the final sampler
_SAMPLER_HINTS = ("seed", "noise_seed", "noise", "steps", "sigmas", "sampler_name", "sampler")
_TEXT_KEYS = ("text", "text_g", "text_l", "prompt", "positive_prompt", "string", "value", "t5xxl", "clip_l")
_MODEL_KEYS = ("ckpt_name", "unet_name", "model_name", "checkpoint_name", "gguf_name", "base_ckpt_name",
               "model_path", "ckpt")
# Links that lead away from the conditioning chain (to loaders and images).
_NOT_CONDITIONING = {"clip", "model", "vae", "latent", "samples", "image", "images", "pixels", "control_net",
                     "clip_vision", "clip_vision_output", "mask", "style_model", "latent_image", "init_image",
                     "start_image", "end_image", "ipadapter"}
# Output nodes by the format they write, so a graph with several saves picks the one that made this file.
_OUTPUTS_BY_FORMAT = {"webp": ("SaveAnimatedWEBP",), "png": ("SaveImage", "SaveAnimatedPNG"),
                      "gif": ("VHS_VideoCombine",), "mp4": ("VHS_VideoCombine", "SaveVideo", "SaveWEBM"),
                      "webm": ("SaveWEBM", "VHS_VideoCombine")}


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)) \
        and isinstance(value[1], int) and not isinstance(value[1], bool)


class Graph:
    def __init__(self, nodes: dict[str, Any]) -> None:
        self.nodes = {str(k): v for k, v in nodes.items()
                      if isinstance(v, dict) and isinstance(v.get("inputs", {}), dict)}

    def inputs(self, node_id: str) -> dict[str, Any]:
        node = self.nodes.get(node_id) or {}
        value = node.get("inputs")
        return value if isinstance(value, dict) else {}

    def kind(self, node_id: str) -> str:
        value = (self.nodes.get(node_id) or {}).get("class_type")
        return value if isinstance(value, str) else ""

    def target(self, value: Any) -> str | None:
        if _is_link(value) and str(value[0]) in self.nodes:
            return str(value[0])
        return None

    def scalar(self, node_id: str | None, *keys: str, depth: int = 0) -> Any:
        """The first of `keys` on a node, following links to primitive/value nodes."""
        if node_id is None or depth > 12:
            return None
        inputs = self.inputs(node_id)
        for key in keys:
            if key not in inputs:
                continue
            value = inputs[key]
            linked = self.target(value)
            if linked is None:
                return value
            found = self.scalar(linked, key, "value", "seed", "int", "float", "number", "string", "text",
                                "noise_seed", "sampler_name", "scheduler", "steps", "cfg", depth=depth + 1)
            if found is not None:
                return found
        return None

    def upstream(self, start: str | None, follow: Any = None) -> Iterator[str]:
        """Breadth-first walk up the links from `start` (inclusive), bounded."""
        if start is None:
            return
        seen = {start}
        queue = deque([start])
        visits = 0
        while queue and visits < MAX_VISITS:
            node_id = queue.popleft()
            visits += 1
            yield node_id
            for name, value in self.inputs(node_id).items():
                linked = self.target(value)
                if linked and linked not in seen and (follow is None or follow(name)):
                    seen.add(linked)
                    queue.append(linked)

    # -- what the sampler is -------------------------------------------------------------
    def is_sampler(self, node_id: str) -> bool:
        kind = self.kind(node_id)
        inputs = self.inputs(node_id)
        if "Sampler" not in kind and "sampler" not in kind.lower():
            return False
        return sum(key in inputs for key in _SAMPLER_HINTS) >= 2

    def samplers(self) -> list[str]:
        return [node_id for node_id in self.nodes if self.is_sampler(node_id)]

    def final_sampler(self, fmt: str | None = None) -> str | None:
        """The sampler that made the saved image: nearest upstream of the output node.

        Only the first MAX_CANDIDATES outputs/samplers are walked, so a hostile
        graph of thousands of save nodes costs MAX_CANDIDATES * MAX_VISITS steps.
        """
        samplers = self.samplers()[:MAX_CANDIDATES]
        if not samplers:
            return None
        sampler_set = set(samplers)
        preferred = _OUTPUTS_BY_FORMAT.get(fmt or "", ())
        outputs = [n for n in self.nodes if self.kind(n) in preferred]
        outputs += [n for n in self.nodes if self.kind(n) not in preferred and "save" in self.kind(n).lower()]
        for output in outputs[:MAX_CANDIDATES]:
            for node_id in self.upstream(output):
                if node_id in sampler_set:
                    return node_id
        # No output node: the sampler no other sampler depends on.
        feeding = {n for s in samplers for n in self.upstream(s) if n != s}
        last = [s for s in samplers if s not in feeding]
        return (last or samplers)[-1]


def _texts(graph: Graph, start: str | None, side: str) -> list[str]:
    """Prompt texts feeding the `side` ("positive"/"negative") conditioning of a sampler.

    The other side's links are not followed (ControlNetApplyAdvanced carries
    both), and loader nodes that hold both prompts as strings (Efficient
    Loader, prompt stylers) are read by the side's own key.
    """
    other_side = "negative" if side == "positive" else "positive"
    keys = (side, f"text_{side}", *_TEXT_KEYS)
    texts: list[str] = []
    follow = lambda name: name not in _NOT_CONDITIONING and name != other_side  # noqa: E731
    for node_id in graph.upstream(start, follow=follow):
        inputs = graph.inputs(node_id)
        for key in keys:
            if key not in inputs:
                continue
            value = inputs[key]
            if graph.target(value):
                value = graph.scalar(node_id, key)
            text = to_str(value)
            if text and isinstance(value, str) and text not in texts:
                texts.append(text)
            break
    return texts


def _model_and_loras(graph: Graph, start: str | None) -> tuple[str | None, list[str]]:
    model = None
    loras: list[str] = []
    follow = lambda name: name in ("model", "lora_stack", "unet", "base_model", "MODEL")  # noqa: E731
    for node_id in graph.upstream(start, follow=follow):
        inputs = graph.inputs(node_id)
        if model is None:
            for key in _MODEL_KEYS:
                value = inputs.get(key)
                if isinstance(value, str) and value.strip() and value != "None":
                    model = value.strip()
                    break
        for key, value in inputs.items():
            if key.startswith("lora_name") or (key.startswith("lora_") and key[5:].isdigit()):
                name = to_str(value)
                if name and name != "None" and name not in loras:
                    loras.append(name)
    return model, loras


def _size(graph: Graph, start: str | None) -> tuple[int | None, int | None]:
    """Size of the latent the sampler worked on (EmptyLatentImage, LatentUpscale, video conditioning)."""
    for node_id in graph.upstream(start, follow=lambda name: name not in ("model", "vae", "clip")):
        kind = graph.kind(node_id).lower()
        if "latent" not in kind and "conditioning" not in kind:
            continue
        width, height = to_int(graph.scalar(node_id, "width")), to_int(graph.scalar(node_id, "height"))
        if width and height:
            return width, height
    return None, None


def _strip_extension(name: str | None) -> str | None:
    if name is None:
        return None
    for ext in (".safetensors", ".ckpt", ".gguf", ".pt", ".pth", ".sft"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def read_graph(nodes: dict[str, Any], fmt: str | None = None) -> tuple[Generation, dict[str, Any]]:
    """(Generation, facts) from an API graph; facts name the nodes used, for evidence."""
    graph = Graph(nodes)
    sampler = graph.final_sampler(fmt)
    if sampler is None:
        return Generation(), {"sampler_node": None}
    inputs = graph.inputs(sampler)
    guider = graph.target(inputs.get("guider"))
    sigmas = graph.target(inputs.get("sigmas"))
    noise = graph.target(inputs.get("noise"))
    sampler_select = graph.target(inputs.get("sampler"))

    seed = graph.scalar(sampler, "seed", "noise_seed")
    if seed is None and noise:
        seed = graph.scalar(noise, "noise_seed", "seed")
    steps = graph.scalar(sampler, "steps")
    if steps is None and sigmas:
        steps = graph.scalar(sigmas, "steps")
    cfg = graph.scalar(sampler, "cfg")
    if cfg is None and guider:
        cfg = graph.scalar(guider, "cfg")
    sampler_name = graph.scalar(sampler, "sampler_name")
    if sampler_name is None and sampler_select:
        sampler_name = graph.scalar(sampler_select, "sampler_name")
    scheduler = graph.scalar(sampler, "scheduler")
    if scheduler is None and sigmas:
        scheduler = graph.scalar(sigmas, "scheduler")

    holder = sampler if "positive" in inputs else (guider or sampler)
    holder_inputs = graph.inputs(holder)
    positive = graph.target(holder_inputs.get("positive") or holder_inputs.get("conditioning"))
    negative = graph.target(holder_inputs.get("negative"))
    model_start = graph.target(inputs.get("model") or holder_inputs.get("model"))
    if model_start is None and sigmas:
        model_start = graph.target(graph.inputs(sigmas).get("model"))
    model, loras = _model_and_loras(graph, model_start)
    width, height = _size(graph, graph.target(inputs.get("latent_image") or inputs.get("latent")))
    positive_texts = _texts(graph, positive, "positive")
    negative_texts = _texts(graph, negative, "negative") if negative else []
    if cfg is None:
        cfg = next((graph.scalar(n, "guidance") for n in graph.upstream(positive)
                    if "Guidance" in graph.kind(n)), None)
    generation = Generation(
        prompt=to_str("\n".join(positive_texts)),
        negative_prompt=to_str("\n".join(t for t in negative_texts if t not in positive_texts)),
        seed=to_int(seed),
        steps=to_int(steps),
        cfg=to_float(cfg),
        sampler=to_str(sampler_name),
        scheduler=to_str(scheduler),
        model=_strip_extension(to_str(model)),
        width=width,
        height=height,
        loras=[_strip_extension(name) or name for name in loras],
    )
    return generation, {"sampler_node": sampler, "sampler_class": graph.kind(sampler)}


def read_workflow(workflow: dict[str, Any]) -> Generation:
    """Best effort from a UI workflow alone (no API graph): widget values of known nodes."""
    nodes = workflow.get("nodes")
    if not isinstance(nodes, list):
        return Generation()
    generation = Generation()
    for node in nodes[:MAX_VISITS]:
        if not isinstance(node, dict):
            continue
        kind, widgets = node.get("type"), node.get("widgets_values")
        if not isinstance(widgets, list):
            continue
        if kind in ("KSampler", "KSamplerAdvanced") and generation.seed is None:
            offset = 1 if kind == "KSamplerAdvanced" else 0    # add_noise comes first
            values = widgets[offset:offset + 7] + [None] * 7
            generation.seed, generation.steps = to_int(values[0]), to_int(values[2])
            generation.cfg, generation.sampler = to_float(values[3]), to_str(values[4])
            generation.scheduler = to_str(values[5])
        elif kind in ("CheckpointLoaderSimple", "UNETLoader") and generation.model is None and widgets:
            generation.model = _strip_extension(to_str(widgets[0]))
    return generation
