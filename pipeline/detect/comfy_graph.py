"""Read generation parameters out of a ComfyUI API graph by walking it.

The graph is {"node id": {"class_type": ..., "inputs": {name: value | [node_id, slot]}}}.
Node ids are arbitrary, so the walk starts at the output node and finds the
sampler that produced the image, then walks back along the latent/image links
to every earlier sampling pass (hires fix, refiner, Wan 2.2 high/low noise).
The BASE pass - the first whose latent is fresh (an empty-latent node, not a
sampler's output or an encoded image) at full denoise - gives the top-level
fields; every pass is listed in Generation.passes.

Values are followed through links to where the literal lives: primitive and
custom text nodes, any node whose output is its one linked input, and switch
nodes, whose chosen branch alone is followed (a LoRA behind a switch set to
"Off" is not used). Every walk is bounded by a visited set and a node budget,
so cyclic or enormous graphs cost at most MAX_VISITS steps.
"""
from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from alice.pipeline.detect.coerce import to_float, to_int, to_str
from alice.pipeline.generation import Generation

MAX_VISITS = 2_000          # nodes one walk may visit
MAX_CANDIDATES = 20         # output nodes / samplers considered when choosing the final sampler
MAX_DEPTH = 24              # links one value may be followed through
MAX_PASSES = 16
_SAMPLER_HINTS = ("seed", "noise_seed", "noise", "steps", "sigmas", "sampler_name", "sampler")
# Nodes that sample without "Sampler" in their class name.
_SAMPLER_LIKE = {"UltimateSDUpscale", "UltimateSDUpscaleNoUpscale", "FaceDetailer", "FaceDetailerPipe",
                 "DetailerForEach", "DetailerForEachDebug"}
_TEXT_KEYS = ("text", "text_g", "text_l", "prompt", "positive_prompt", "string", "value", "t5xxl", "clip_l")
# Where a value node keeps the literal it outputs, after the input name asked for.
_VALUE_KEYS = ("value", "text", "string", "int", "float", "number", "Text", "STRING", "INT", "FLOAT")
_MODEL_KEYS = ("ckpt_name", "unet_name", "model_name", "checkpoint_name", "gguf_name", "base_ckpt_name",
               "model_path", "ckpt")
_MODEL_LINKS = ("model", "unet", "base_model", "MODEL", "model1", "model_1")
_LATENT_LINKS = ("samples", "latent_image", "latent", "latents", "LATENT")
_IMAGE_LINKS = ("pixels", "image", "images", "IMAGE")
# Links that lead away from the conditioning chain (to loaders and images).
_NOT_CONDITIONING = {"clip", "model", "vae", "latent", "samples", "image", "images", "pixels", "control_net",
                     "clip_vision", "clip_vision_output", "mask", "style_model", "latent_image", "init_image",
                     "start_image", "end_image", "ipadapter"}
# Output nodes by the format they write, so a graph with several saves picks the one that made this file.
_OUTPUTS_BY_FORMAT = {"webp": ("SaveAnimatedWEBP",), "png": ("SaveImage", "SaveAnimatedPNG"),
                      "gif": ("VHS_VideoCombine",), "mp4": ("VHS_VideoCombine", "SaveVideo", "SaveWEBM"),
                      "webm": ("SaveWEBM", "VHS_VideoCombine")}
# Boolean switches: the flag input, then the (true, false) branch names they use.
_FLAGS = ("boolean", "cond", "condition", "switch", "enabled", "Boolean", "state")
_BRANCHES = (("on_true", "on_false"), ("tt_value", "ff_value"), ("if_true", "if_false"), ("true", "false"),
             ("input_true", "input_false"), ("value_if_true", "value_if_false"))
# Index switches: the selector input; the branch is the input whose trailing number matches it.
_SELECTORS = ("select", "Input", "input", "index", "selected", "selection", "choice", "Select")
_TRAILING_NUMBER = re.compile(r"^(.*?)_?(\d+)$")
_ON_WORDS = {"on", "true", "yes", "enable", "enabled", "1"}
_OFF_WORDS = {"off", "false", "no", "disable", "disabled", "0"}

Location = tuple[str, str]          # (node id, input name) where a literal value lives


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)) \
        and not isinstance(value[0], bool) and isinstance(value[1], int) and not isinstance(value[1], bool)


def _flag(value: Any) -> bool | None:
    """True/False for the on/off spellings switch nodes use; None if `value` is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _ON_WORDS:
            return True
        if word in _OFF_WORDS:
            return False
    return None


class Graph:
    def __init__(self, nodes: dict[str, Any]) -> None:
        self.nodes = {str(k): v for k, v in nodes.items()
                      if isinstance(v, dict) and isinstance(v.get("inputs", {}), dict)}
        self._branches: dict[str, str | None] = {}

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

    # -- switches --------------------------------------------------------------------------
    def branch(self, node_id: str) -> str | None:
        """The input a switch node passes on, or None if the node is not a switch."""
        if node_id not in self._branches:
            self._branches[node_id] = self._find_branch(node_id)
        return self._branches[node_id]

    def _find_branch(self, node_id: str) -> str | None:
        inputs = self.inputs(node_id)
        for flag_key in _FLAGS:
            if flag_key not in inputs or self.target(inputs[flag_key]):
                continue
            on = _flag(inputs[flag_key])
            if on is None:
                continue
            for true_key, false_key in _BRANCHES:
                if true_key in inputs or false_key in inputs:
                    return true_key if on else false_key
        kind = self.kind(node_id).lower()
        if not any(word in kind for word in ("switch", "select", "index", "selector")):
            return None
        numbered: dict[int, str] = {}
        for key in inputs:
            match = _TRAILING_NUMBER.match(key)
            if match and key not in _SELECTORS:
                numbered.setdefault(int(match.group(2)), key)
        for selector in _SELECTORS:
            if selector in inputs and not self.target(inputs[selector]):
                chosen = to_int(inputs[selector])
                if chosen is not None:
                    return numbered.get(chosen)
        # No selector (rgthree "Any Switch"): the first connected input wins.
        for number in sorted(numbered):
            if self.target(inputs[numbered[number]]):
                return numbered[number]
        return None

    def links(self, node_id: str) -> Iterator[tuple[str, str]]:
        """(input name, upstream node) of a node's links; a switch yields its chosen branch only."""
        inputs = self.inputs(node_id)
        chosen = self.branch(node_id)
        if chosen is not None:
            linked = self.target(inputs.get(chosen))
            if linked:
                yield chosen, linked
            return
        for name, value in inputs.items():
            linked = self.target(value)
            if linked:
                yield name, linked

    # -- values ----------------------------------------------------------------------------
    def locate(self, node_id: str | None, *keys: str) -> tuple[Any, Location] | None:
        """(literal, where it lives) for the first of `keys` on a node, following links.

        A linked input is followed to the node that produces it: a switch's chosen
        branch, a value node's literal, or - for any node whose output is its one
        linked input (reroutes, show-text, custom pass-through nodes) - that input.
        """
        if node_id is None:
            return None
        inputs = self.inputs(node_id)
        for key in keys:
            if key in inputs:
                found = self._value(node_id, key, inputs[key], key, set(), 0)
                if found is not None:
                    return found
        return None

    def _value(self, node_id: str, key: str, value: Any, want: str, seen: set[str],
               depth: int) -> tuple[Any, Location] | None:
        """`value` of input `key` on `node_id` as a literal; a link is followed asking for `want`."""
        linked = self.target(value)
        if linked is None:
            return (value, (node_id, key)) if value is not None and not isinstance(value, (dict, list)) else None
        return self.produced(linked, want, seen, depth + 1)

    def produced(self, node_id: str, want: str, seen: set[str], depth: int) -> tuple[Any, Location] | None:
        """The literal node `node_id` outputs when a consumer asks it for `want`."""
        if depth > MAX_DEPTH or node_id in seen:
            return None
        seen.add(node_id)
        inputs = self.inputs(node_id)
        chosen = self.branch(node_id)
        if chosen is not None:
            return self._value(node_id, chosen, inputs[chosen], want, seen, depth) if chosen in inputs else None
        for candidate in (want, *_VALUE_KEYS):
            if candidate in inputs:
                found = self._value(node_id, candidate, inputs[candidate], candidate, seen, depth)
                if found is not None:
                    return found
        linked = [name for name, value in inputs.items() if self.target(value)]
        if len(linked) == 1:
            return self._value(node_id, linked[0], inputs[linked[0]], want, seen, depth)
        return None

    def scalar(self, node_id: str | None, *keys: str) -> Any:
        found = self.locate(node_id, *keys)
        return None if found is None else found[0]

    def upstream(self, start: str | None, follow: Callable[[str], bool] | None = None) -> Iterator[str]:
        """Breadth-first walk up the links from `start` (inclusive), bounded; switches pass one branch."""
        if start is None:
            return
        seen = {start}
        queue = deque([start])
        visits = 0
        while queue and visits < MAX_VISITS:
            node_id = queue.popleft()
            visits += 1
            yield node_id
            is_switch = self.branch(node_id) is not None
            for name, linked in self.links(node_id):
                if linked not in seen and (follow is None or is_switch or follow(name)):
                    seen.add(linked)
                    queue.append(linked)

    # -- what the sampler is -------------------------------------------------------------
    def is_sampler(self, node_id: str) -> bool:
        kind = self.kind(node_id)
        if "sampler" not in kind.lower() and kind not in _SAMPLER_LIKE:
            return False
        inputs = self.inputs(node_id)
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

    # -- where a sampler's latent came from ------------------------------------------------
    def latent_origin(self, sampler: str) -> tuple[str, str | None]:
        """("sampler", id) | ("empty", id) | ("image", id) | ("unknown", None) for a sampler's input.

        Walks the latent link (and, through VAE encode/decode, the image link) back
        to the previous sampler, an empty-latent node (fresh noise), or a loaded image.
        """
        inputs = self.inputs(sampler)
        current = next((self.target(inputs.get(k)) for k in (*_LATENT_LINKS, *_IMAGE_LINKS)
                        if self.target(inputs.get(k))), None)
        seen = {sampler}
        encoded = False
        while current is not None and current not in seen and len(seen) < MAX_VISITS:
            seen.add(current)
            if self.is_sampler(current):
                return "sampler", current
            kind = self.kind(current).lower()
            node_inputs = self.inputs(current)
            links = dict(self.links(current))
            after = next((links[k] for k in _LATENT_LINKS if k in links), None)
            if after is None and self.branch(current) is not None:
                after = next(iter(links.values()), None)
            if after is not None:
                current = after
                continue
            if "vaeencode" in kind or "loadlatent" in kind:
                encoded = True
            elif not encoded and ("empty" in kind or "empty_latent_width" in node_inputs
                                  or ("width" in node_inputs and "height" in node_inputs)):
                return "empty", current         # EmptyLatentImage & co., Efficient Loader, video latents
            current = next((links[k] for k in _IMAGE_LINKS if k in links), None)
            if current is None:
                return "image", None
        return ("image", None) if encoded else ("unknown", None)

    def pass_chain(self, final: str) -> list[str]:
        """The samplers that made the image, first pass first, ending with `final`."""
        chain = [final]
        while len(chain) < MAX_PASSES:
            origin, node = self.latent_origin(chain[0])
            if origin != "sampler" or node is None or node in chain:
                break
            chain.insert(0, node)
        return chain


# -- one pass ------------------------------------------------------------------------------
def _adds_noise(graph: Graph, sampler: str) -> bool:
    """False when the sampler adds no noise, so its seed is unused (a refiner or low-noise pass)."""
    inputs = graph.inputs(sampler)
    for key in ("add_noise", "noise_mode"):
        if key in inputs and not graph.target(inputs[key]):
            if _flag(inputs[key]) is False:
                return False
    noise = graph.target(inputs.get("noise"))
    return not (noise and "disablenoise" in graph.kind(noise).lower())


def _holder(graph: Graph, sampler: str) -> str:
    """The node holding the conditioning: the sampler itself, or its guider (SamplerCustomAdvanced)."""
    inputs = graph.inputs(sampler)
    if "positive" in inputs:
        return sampler
    return graph.target(inputs.get("guider")) or sampler


def _sampling_values(graph: Graph, sampler: str) -> dict[str, tuple[Any, Location]]:
    """seed/steps/cfg/sampler/scheduler/denoise of one pass, each with where it lives."""
    inputs = graph.inputs(sampler)
    guider = graph.target(inputs.get("guider"))
    sigmas = graph.target(inputs.get("sigmas"))
    noise = graph.target(inputs.get("noise"))
    select = graph.target(inputs.get("sampler"))
    found: dict[str, tuple[Any, Location]] = {}

    def put(name: str, node: str | None, *keys: str) -> None:
        if name in found or node is None:
            return
        value = graph.locate(node, *keys)
        if value is None and node != sampler:
            # A sigmas/noise/guider node may pass its input through (SplitSigmas, custom nodes).
            value = graph.produced(node, keys[0], set(), 0)
        if value is not None and value[0] is not None:
            found[name] = value

    if _adds_noise(graph, sampler):
        put("seed", sampler, "seed", "noise_seed")
        put("seed", noise, "noise_seed", "seed")
    put("steps", sampler, "steps")
    put("steps", sigmas, "steps")
    put("cfg", sampler, "cfg")
    put("cfg", guider, "cfg")
    put("sampler", sampler, "sampler_name")
    put("sampler", select, "sampler_name")
    put("scheduler", sampler, "scheduler")
    put("scheduler", sigmas, "scheduler")
    put("denoise", sampler, "denoise")
    put("denoise", sigmas, "denoise")
    for key in ("start_at_step", "end_at_step"):
        put(key, sampler, key)
    if "cfg" not in found:
        positive = graph.target(graph.inputs(_holder(graph, sampler)).get("positive")
                                or graph.inputs(_holder(graph, sampler)).get("conditioning"))
        for node_id in graph.upstream(positive):
            if "Guidance" in graph.kind(node_id):
                value = graph.locate(node_id, "guidance")
                if value is not None:
                    found["cfg"] = value
                    break
    return found


def _full_denoise(values: dict[str, tuple[Any, Location]]) -> bool:
    denoise = to_float(values["denoise"][0]) if "denoise" in values else None
    if denoise is not None:
        return denoise >= 0.999
    start = to_int(values["start_at_step"][0]) if "start_at_step" in values else None
    return not start


def _model_chain(graph: Graph, sampler: str) -> tuple[tuple[str, Location] | None, list[str]]:
    """The checkpoint (with where it is named) and the LoRAs actually applied, along the model links."""
    inputs = graph.inputs(sampler)
    holder = graph.inputs(_holder(graph, sampler))
    start = graph.target(inputs.get("model") or holder.get("model"))
    if start is None:
        sigmas = graph.target(inputs.get("sigmas"))
        start = graph.target(graph.inputs(sigmas).get("model")) if sigmas else None
    model: tuple[str, Location] | None = None
    loras: list[str] = []
    follow = lambda name: name in _MODEL_LINKS or name == "lora_stack" or name.startswith("lora_stack")  # noqa: E731
    for node_id in graph.upstream(start, follow=follow):
        if model is None:
            for key in _MODEL_KEYS:
                found = graph.locate(node_id, key)
                if found and isinstance(found[0], str) and found[0].strip() and found[0] != "None":
                    model = (found[0].strip(), found[1])
                    break
        for name in _loras_of(graph, node_id):
            if name not in loras:
                loras.append(name)
    return model, loras


def _loras_of(graph: Graph, node_id: str) -> list[str]:
    """LoRAs a loader or stack node applies, skipping slots switched off, set to None or beyond its count."""
    inputs = graph.inputs(node_id)
    count = to_int(inputs.get("lora_count")) if not graph.target(inputs.get("lora_count")) else None
    names = []
    for key, value in inputs.items():
        if isinstance(value, dict) and ("lora" in value or "name" in value):
            # rgthree Power Lora Loader: {"on": bool, "lora": name, "strength": x}
            if _flag(value.get("on", True)) is False:
                continue
            value = value.get("lora") or value.get("name")
            number = None
        elif key.startswith("lora_name") or (key.startswith("lora_") and key[5:].isdigit()):
            match = _TRAILING_NUMBER.match(key)
            number = int(match.group(2)) if match else None
            if number is not None:
                switch = inputs.get(f"switch_{number}", inputs.get(f"lora_{number}_on"))
                if switch is not None and _flag(switch) is False:
                    continue
                if count is not None and number > count:
                    continue
            if graph.target(value):
                value = graph.scalar(node_id, key)
        else:
            continue
        name = to_str(value)
        if name and name != "None":
            names.append(_strip_extension(name))
    return names


def _texts(graph: Graph, start: str | None, side: str) -> list[tuple[str, Location]]:
    """Prompt texts feeding the `side` ("positive"/"negative") conditioning of a sampler.

    The other side's links are not followed (ControlNetApplyAdvanced carries
    both), and loader nodes that hold both prompts as strings (Efficient
    Loader, prompt stylers) are read by the side's own key.
    """
    other_side = "negative" if side == "positive" else "positive"
    keys = (side, f"text_{side}", *_TEXT_KEYS)
    texts: list[tuple[str, Location]] = []
    seen_texts: set[str] = set()
    follow = lambda name: name not in _NOT_CONDITIONING and name != other_side  # noqa: E731
    for node_id in graph.upstream(start, follow=follow):
        inputs = graph.inputs(node_id)
        for key in keys:
            if key not in inputs:
                continue
            found = graph.locate(node_id, key)
            if found is None or not isinstance(found[0], str):
                break
            text = to_str(found[0])
            if text and text not in seen_texts:
                seen_texts.add(text)
                texts.append((text, found[1]))
            break
    return texts


def _size(graph: Graph, node: str | None) -> dict[str, tuple[Any, Location]]:
    found: dict[str, tuple[Any, Location]] = {}
    if node is None:
        return found
    for name, keys in (("width", ("width", "empty_latent_width")), ("height", ("height", "empty_latent_height"))):
        value = graph.locate(node, *keys)
        if value is not None and to_int(value[0]):
            found[name] = value
    return found


def _size_fallback(graph: Graph, sampler: str) -> dict[str, tuple[Any, Location]]:
    """Size of the latent when the origin walk found no empty-latent node (video conditioning, loaders)."""
    inputs = graph.inputs(sampler)
    start = next((graph.target(inputs.get(k)) for k in _LATENT_LINKS if graph.target(inputs.get(k))), None)
    for node_id in graph.upstream(start, follow=lambda name: name not in ("model", "vae", "clip")):
        kind = graph.kind(node_id).lower()
        if "latent" not in kind and "conditioning" not in kind and "loader" not in kind:
            continue
        found = _size(graph, node_id)
        if len(found) == 2:
            return found
    return {}


def _strip_extension(name: str) -> str:
    lowered = name.lower()
    for ext in (".safetensors", ".ckpt", ".gguf", ".pt", ".pth", ".sft"):
        if lowered.endswith(ext):
            return name[: -len(ext)]
    return name


# -- the walk --------------------------------------------------------------------------------
class _Walk:
    """Everything read from one graph: the pass chain, the base pass and where its values live."""

    def __init__(self, nodes: dict[str, Any], fmt: str | None) -> None:
        self.graph = graph = Graph(nodes)
        self.final = graph.final_sampler(fmt)
        self.chain = graph.pass_chain(self.final) if self.final else []
        self.values = {s: _sampling_values(graph, s) for s in self.chain}
        self._find_missed_base()
        self.base = self.chain[0] if self.chain else None

    def _find_missed_base(self) -> None:
        """When the chain's first pass does not start from fresh noise (its latent came through a
        node the origin walk does not know), look for a fresh full-denoise pass anywhere upstream."""
        if not self.chain or self.graph.latent_origin(self.chain[0])[0] == "empty":
            return
        for node_id in self.graph.upstream(self.chain[0]):
            if node_id in self.chain or not self.graph.is_sampler(node_id):
                continue
            if self.graph.latent_origin(node_id)[0] != "empty":
                continue
            values = _sampling_values(self.graph, node_id)
            if _full_denoise(values):
                self.values[node_id] = values
                self.chain.insert(0, node_id)
                return

    def located(self) -> dict[str, tuple[Any, Location]]:
        """The base pass's fields, each as (literal, (node id, input name))."""
        if self.base is None:
            return {}
        graph, base = self.graph, self.base
        out = {k: v for k, v in self.values[base].items() if k not in ("start_at_step", "end_at_step")}
        model, _ = _model_chain(graph, base)
        if model:
            out["model"] = model
        holder = graph.inputs(_holder(graph, base))
        positive = graph.target(holder.get("positive") or holder.get("conditioning"))
        negative = graph.target(holder.get("negative"))
        positives = _texts(graph, positive, "positive")
        negatives = _texts(graph, negative, "negative") if negative else []
        if positives:
            out["prompt"] = positives[0]
        negatives = [t for t in negatives if t[0] not in {p[0] for p in positives}]
        if negatives:
            out["negative_prompt"] = negatives[0]
        origin, node = graph.latent_origin(base)
        size = _size(graph, node) if origin == "empty" else {}
        if len(size) < 2:
            size = _size_fallback(graph, base)
        out.update(size)
        return out

    def generation(self) -> Generation:
        if self.base is None:
            return Generation()
        graph, base = self.graph, self.base
        located = self.located()
        value = lambda name: located[name][0] if name in located else None  # noqa: E731
        _, loras = _model_chain(graph, base)
        holder = graph.inputs(_holder(graph, base))
        positive = graph.target(holder.get("positive") or holder.get("conditioning"))
        negative = graph.target(holder.get("negative"))
        positives = [t for t, _ in _texts(graph, positive, "positive")]
        negatives = [t for t, _ in _texts(graph, negative, "negative")] if negative else []
        return Generation(
            prompt=to_str("\n".join(positives)),
            negative_prompt=to_str("\n".join(t for t in negatives if t not in positives)),
            seed=to_int(value("seed")),
            steps=to_int(value("steps")),
            cfg=to_float(value("cfg")),
            sampler=to_str(value("sampler")),
            scheduler=to_str(value("scheduler")),
            model=to_str(value("model")),
            width=to_int(value("width")),
            height=to_int(value("height")),
            loras=loras,
            passes=self.passes() if len(self.chain) > 1 else [],
        )

    def passes(self) -> list[dict[str, Any]]:
        out = []
        for sampler in self.chain:
            entry: dict[str, Any] = {"node": sampler, "class": self.graph.kind(sampler)}
            for name, (literal, _) in self.values[sampler].items():
                entry[name] = literal
            model, _ = _model_chain(self.graph, sampler)
            if model:
                entry["model"] = model[0]
            out.append(entry)
        return out


def read_graph(nodes: dict[str, Any], fmt: str | None = None) -> tuple[Generation, dict[str, Any]]:
    """(Generation, facts) from an API graph; facts name the nodes used, for evidence."""
    walk = _Walk(nodes, fmt)
    if walk.base is None:
        return Generation(), {"sampler_node": None}
    return walk.generation(), {"sampler_node": walk.base, "sampler_class": walk.graph.kind(walk.base),
                               "final_node": walk.final, "passes": len(walk.chain),
                               "fresh": walk.graph.latent_origin(walk.base)[0] == "empty"}


def locate_base_pass(nodes: dict[str, Any], fmt: str | None = None) -> dict[str, tuple[str, str]]:
    """Where each base-pass value lives: field -> (node id, input name), after following links.

    Fields: seed, steps, cfg, sampler, scheduler, denoise, prompt, negative_prompt,
    model, width, height; a field the graph does not state is left out. Writing a
    new literal at a location and queueing the graph re-runs the same generation
    with that one value changed (the "vary" feature).
    """
    if not isinstance(nodes, dict):
        return {}
    walk = _Walk(nodes, fmt)
    return {name: location for name, (_, location) in walk.located().items()}


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
            generation.model = to_str(widgets[0])
    return generation
