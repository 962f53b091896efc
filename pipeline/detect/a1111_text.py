"""Parse the A1111 "parameters" text that most SD front ends write.

    prompt
    Negative prompt: ...
    Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x768, Model: m, Version: v1.10.1

Forge, SD.Next, Fooocus (text mode), Civitai, Stability Matrix, ComfyUI save
nodes and stealth pnginfo all reuse it, so the parser is shared and the tool
is decided by the callers from the key/value pairs it returns.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from alice.pipeline.detect.coerce import to_float, to_int, to_size, to_str
from alice.pipeline.generation import Generation

# Keys as A1111 writes them (modules/infotext_utils.py); values may be JSON-quoted and contain commas.
_KEY = re.compile(r"\s*(\w[\w \-/+.()]*?):\s*")
_QUOTED = re.compile(r'"(?:\\.|[^\\"])*"')
_DECODER = json.JSONDecoder()
_ANY_STEPS_KEY = re.compile(r"steps\s*:", re.IGNORECASE)      # a JSON "steps": does not match
_STEPS_LINE = re.compile(r"(?:^|,\s*)steps\s*:\s*\S", re.IGNORECASE)
_LORA_TAG = re.compile(r"<(?:lora|lyco):([^:>]+)(?::[^>]*)?>", re.IGNORECASE)
_LORA_N_NAME = re.compile(r"^lora\d+modelname$")
_SPACES = re.compile(r"[\s_]+")


def key_form(key: str) -> str:
    """"CFG Scale", "cfg scale", "cfg_scale" -> "cfgscale": how keys are compared, whoever wrote them."""
    return _SPACES.sub("", key).lower()
MAX_LINES = 20_000


@dataclass
class A1111Text:
    prompt: str | None
    negative_prompt: str | None
    params: dict[str, str]
    extra_lines: list[str] = field(default_factory=list)
    _forms: dict[str, str] | None = field(default=None, repr=False, compare=False)

    def get(self, *keys: str) -> str | None:
        """The value of the first of `keys` present, matched case- and space-insensitively."""
        if self._forms is None:
            self._forms = {}
            for key, value in self.params.items():
                self._forms.setdefault(key_form(key), value)
        for key in keys:
            found = self._forms.get(key_form(key))
            if found is not None:
                return found
        return None

    def generation(self) -> Generation:
        width, height = to_size(self.get("Size"))
        if width is None:
            width, height = to_int(self.get("Width")), to_int(self.get("Height"))
        return Generation(
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            seed=to_int(self.get("Seed")),
            steps=to_int(self.get("Steps")),
            cfg=to_float(self.get("CFG scale", "CFG", "Guidance scale")),
            sampler=to_str(self.get("Sampler", "Sampler name")),
            scheduler=to_str(self.get("Schedule type", "Scheduler")),
            model=to_str(self.get("Model", "Checkpoint")),
            model_hash=to_str(self.get("Model hash")),
            width=width,
            height=height,
            loras=self.loras(),
        )

    def loras(self) -> list[str]:
        names: list[str] = []
        names += [m.group(1).strip() for m in _LORA_TAG.finditer(self.prompt or "")]
        for key, value in self.params.items():
            if _LORA_N_NAME.match(key_form(key)):
                names.append(value.strip())
        lora_hashes = self.get("Lora hashes")
        if lora_hashes:
            names += [part.split(":")[0].strip() for part in lora_hashes.split(",") if ":" in part]
        hashes = self.get("Hashes")
        if hashes:
            try:
                table = json.loads(hashes)
            except ValueError:
                table = {}
            if isinstance(table, dict):
                names += [str(k)[5:] for k in table if str(k).startswith("lora:")]
        seen: dict[str, None] = {}
        for name in names:
            stem = re.sub(r"\.(safetensors|ckpt|pt)$", "", name)
            if stem and stem.lower() not in {s.lower() for s in seen}:
                seen[stem] = None
        return list(seen)

    def raw(self) -> dict:
        out: dict = {"prompt": self.prompt, "negative_prompt": self.negative_prompt, **self.params}
        if self.extra_lines:
            out["extra"] = "\n".join(self.extra_lines)
        return out


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
            if isinstance(decoded, str):
                return decoded
        except ValueError:
            pass
    return value


def parse_params_line(line: str) -> dict[str, str]:
    """Key/value pairs of the parameters line; JSON-quoted values and inline JSON objects are kept whole."""
    params: dict[str, str] = {}
    position = 0
    while position < len(line):
        match = _KEY.match(line, position)
        if not match:
            break
        key, position = match.group(1).strip(), match.end()
        value_end = _value_end(line, position)
        value = _unquote(line[position:value_end])
        if key not in params:
            params[key] = value
        position = value_end + 1           # past the comma
    return params


def _value_end(line: str, start: int) -> int:
    if start < len(line) and line[start] == '"':
        quoted = _QUOTED.match(line, start)
        if quoted:
            return _comma_or_end(line, quoted.end())
    if start < len(line) and line[start] in "{[":
        # ComfyUI savers write `Hashes: {"model": "..", ...}` without quoting it.
        try:
            _, end = _DECODER.raw_decode(line, start)
            return _comma_or_end(line, end)
        except ValueError:
            pass
    return _comma_or_end(line, start)


def _comma_or_end(line: str, start: int) -> int:
    comma = line.find(",", start)
    return len(line) if comma < 0 else comma


def parse_a1111(text: str) -> A1111Text | None:
    """Split A1111 text into prompt, negative prompt and parameters; None if it has no "Steps:" line."""
    if not isinstance(text, str) or ("Steps:" not in text and not _ANY_STEPS_KEY.search(text)):
        return None
    lines = text.strip().replace("\r\n", "\n").split("\n")
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
    found = next(((i, match) for i in range(len(lines) - 1, -1, -1)
                  if (match := _STEPS_LINE.search(lines[i]))), None)
    if found is None:
        return None
    index, steps_match = found
    params = parse_params_line(lines[index])
    if not any(key_form(key) == "steps" for key in params):
        return None
    prompt_lines: list[str] = []
    negative_lines: list[str] | None = None
    for line in lines[:index]:
        if negative_lines is None and line[:16].lower() == "negative prompt:":
            negative_lines = [line[len("Negative prompt:"):].lstrip()]
        elif negative_lines is not None:
            negative_lines.append(line)
        else:
            prompt_lines.append(line)
    # The parameters can be on the same line as the prompt when the prompt is empty.
    prefix = lines[index][:steps_match.start()].strip()
    if prefix and prefix[:16].lower() == "negative prompt:":
        negative_lines = (negative_lines or []) + [prefix[len("Negative prompt:"):].strip()]
    return A1111Text(
        prompt=to_str("\n".join(prompt_lines)),
        negative_prompt=to_str("\n".join(negative_lines)) if negative_lines is not None else None,
        params=params,
        extra_lines=lines[index + 1:],
    )
