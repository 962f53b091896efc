"""InvokeAI, three generations of format:

 - v3+: `invokeai_metadata` JSON (+ `invokeai_graph` / `invokeai_workflow`);
 - v2: `sd-metadata` JSON with an "image" record;
 - v1: `Dream` = '"prompt" -s 50 -S 42 -W 512 -H 768 -C 7.5 -A k_lms'.
"""
from __future__ import annotations

import re
import shlex

from alice.pipeline.detect.coerce import to_float, to_int, to_mapping, to_str
from alice.pipeline.detect.sources import load_json_object, text_evidence
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

DREAM_CAP = 64 * 1024       # a v1 command line; shlex is slow on megabytes of hostile text
_NEGATIVE = re.compile(r"\[([^\[\]]*)\]")


def _name(value: object) -> str | None:
    if isinstance(value, dict):
        return to_str(value.get("model_name") or value.get("name") or value.get("key"))
    return to_str(value)


def _split_negative(prompt: str | None) -> tuple[str | None, str | None]:
    """v1/v2 put the negative prompt in [brackets] inside the prompt."""
    if not prompt:
        return prompt, None
    negatives = _NEGATIVE.findall(prompt)
    if not negatives:
        return prompt, None
    return to_str(_NEGATIVE.sub("", prompt)), to_str(", ".join(n.strip() for n in negatives))


def _from_v3(record: dict) -> Generation:
    loras = []
    listed = record.get("loras")
    for lora in listed if isinstance(listed, list) else []:
        if isinstance(lora, dict):
            name = _name(lora.get("lora") or lora.get("model"))
            if name:
                loras.append(name)
    model = record.get("model")
    return Generation(
        prompt=record.get("positive_prompt"),
        negative_prompt=record.get("negative_prompt"),
        seed=record.get("seed"),
        steps=record.get("steps"),
        cfg=record.get("cfg_scale"),
        sampler=record.get("scheduler"),   # InvokeAI calls the sampler "scheduler"
        model=_name(model),
        model_hash=to_str(model.get("hash")) if isinstance(model, dict) else None,
        width=record.get("width"),
        height=record.get("height"),
        loras=loras,
    )


def _from_v2(record: dict) -> Generation:
    image = to_mapping(record.get("image"))
    prompt = image.get("prompt")
    if isinstance(prompt, list):
        prompt = " ".join(str(p.get("prompt", "")) for p in prompt if isinstance(p, dict))
    positive, negative = _split_negative(to_str(prompt))
    return Generation(
        prompt=positive, negative_prompt=negative,
        seed=image.get("seed"), steps=image.get("steps"), cfg=image.get("cfg_scale"),
        sampler=image.get("sampler"), model=record.get("model_weights"),
        model_hash=record.get("model_hash"), width=image.get("width"), height=image.get("height"),
    )


_DREAM_FLAGS = {"-s": "steps", "--steps": "steps", "-S": "seed", "--seed": "seed", "-W": "width",
                "--width": "width", "-H": "height", "--height": "height", "-C": "cfg", "--cfg_scale": "cfg",
                "-A": "sampler", "--sampler": "sampler"}


def _is_flag(token: str) -> bool:
    return len(token) > 1 and token[0] == "-" and not token[1].isdigit()


def _from_dream(text: str) -> tuple[Generation, dict]:
    command = text[:DREAM_CAP]
    try:
        tokens = shlex.split(command)
    except ValueError:
        tokens = command.split()
    prompt_words: list[str] = []
    values: dict[str, str] = {}
    index = 0
    # The prompt (usually one quoted token) comes before the first flag.
    while index < len(tokens) and not _is_flag(tokens[index]):
        prompt_words.append(tokens[index])
        index += 1
    while index < len(tokens):
        token = tokens[index]
        if token in _DREAM_FLAGS and index + 1 < len(tokens):
            values[_DREAM_FLAGS[token]] = tokens[index + 1]
            index += 2
        else:
            index += 1
    positive, negative = _split_negative(to_str(" ".join(prompt_words)))
    generation = Generation(prompt=positive, negative_prompt=negative, seed=to_int(values.get("seed")),
                            steps=to_int(values.get("steps")), cfg=to_float(values.get("cfg")),
                            sampler=values.get("sampler"), width=to_int(values.get("width")),
                            height=to_int(values.get("height")))
    return generation, {"Dream": text, **values}


def detect(meta: Metadata) -> Detection | None:
    record = load_json_object(meta.text.get("invokeai_metadata"))
    if record is not None:
        evidence = [text_evidence(meta, "invokeai_metadata")]
        raw = {"invokeai_metadata": record}
        if "invokeai_graph" in meta.text:
            evidence.append(text_evidence(meta, "invokeai_graph"))
        return Detection(tool="invokeai", ai=True, evidence=evidence, generation=_from_v3(record), raw=raw)
    for key in ("invokeai_graph", "invokeai_workflow"):
        if key in meta.text:
            return Detection(tool="invokeai", ai=True, evidence=[text_evidence(meta, key)],
                             raw={key: load_json_object(meta.text[key]) or meta.text[key]})
    record = load_json_object(meta.text.get("sd-metadata"))
    if record is not None:
        evidence = [text_evidence(meta, "sd-metadata")]
        app = to_str(record.get("app_id"))
        if app:
            evidence.append(f"invokeai:app_id={app}")
        return Detection(tool="invokeai", ai=True, evidence=evidence, generation=_from_v2(record),
                         raw={"sd-metadata": record})
    dream = meta.text.get("Dream")
    if isinstance(dream, str) and dream.strip():
        generation, raw = _from_dream(dream)
        return Detection(tool="invokeai", ai=True, evidence=[text_evidence(meta, "Dream")],
                         generation=generation, raw=raw)
    return None
