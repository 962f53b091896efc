"""ComfyUI on the user's own machine, through its HTTP API (server.py).

POST /prompt {"prompt": <API graph>, "client_id"} -> {prompt_id, number, node_errors}
    (400 {"error": {type, message, ...}, "node_errors": {node id: {errors: [...], class_type}}});
GET /history/{prompt_id} -> {} until it ran, then {prompt_id: {outputs: {node id:
    {images: [{filename, subfolder, type}]}}, status: {status_str, completed, messages}}};
GET /queue -> {queue_running: [[number, prompt_id, ...]], queue_pending: [...]};
GET /view?filename=&subfolder=&type= -> the file; POST /upload/image (multipart
    `image`, `type`, `overwrite`) -> {name, subfolder, type}; GET /object_info -> {class_type: {...}}.
No key and no cost; budgets still see each request (at $0).
"""
from __future__ import annotations

import hashlib
import mimetypes
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from alice.pipeline.rerun.comfy import (
    RerunError,
    check_graph,
    class_types,
    input_images,
    rename_inputs,
)

from .base import ModelInfo, Provider
from .capabilities import Capability
from .errors import ProviderRequestError
from .inputs import InputFile, ProviderInputError, by_media
from .pricing import Price, Unit
from .results import GenerationResult, Job, JobState, JobStatus, OutputFile

WORKFLOW = "workflow"
_MAX_INPUT_BYTES = 200 * 1024 * 1024
_MAX_LISTED = 8                      # node errors / missing types named in one message


class ComfyUiProvider(Provider):
    name = "comfyui"
    CAPABILITIES = frozenset({Capability.GENERATE, Capability.COMFYUI_GRAPH, Capability.INPUT_IMAGES,
                              Capability.LOCAL})
    REQUIRES_KEY = False
    MODELS = (ModelInfo(WORKFLOW, "image", "an API-format workflow graph, run as given (images or video)"),)
    DEFAULT_PRICES = {WORKFLOW: Price(Unit.IMAGE, Decimal(0))}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Lets ComfyUI tell our prompts from the user's in its websocket messages.
        self.client_id = f"alice-{uuid.uuid4().hex}"
        self._node_types: frozenset[str] | None = None

    def _auth_headers(self) -> dict[str, str]:
        return {}

    def inputs_for(self, prompt: str | None, params: Mapping[str, Any],
                   refs: Sequence[InputFile]) -> tuple[dict[str, Any], dict[str, Any]]:
        """ComfyUI runs an API graph as given ({"graph": ...}); image references are uploaded
        under their file names, for the graph's loader nodes that name them."""
        if prompt is not None:
            raise ProviderInputError(self.name, "ComfyUI runs a graph, not a prompt: pass the API graph as "
                                                "--param graph=@... or vary a filed file with `alice vary`")
        media = by_media(self.name, refs)
        if media["video"] or media["audio"]:
            raise ProviderInputError(self.name, "only image references can be uploaded to ComfyUI here")
        return dict(params), ({"images": {r.path.name: r.path for r in media["image"]}} if refs else {})

    def _billing_params(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"num_images": 1}      # one queued prompt; free, but the budget counts it

    # -- what the server has ----------------------------------------------------------

    async def node_types(self, *, refresh: bool = False) -> frozenset[str]:
        """Every node class this server can run (GET /object_info), fetched once per provider."""
        if self._node_types is None or refresh:
            data = await self._request("GET", "object_info", what="object_info")
            if not isinstance(data, dict):
                raise self._malformed("object_info answer", "not a mapping of node class -> info")
            self._node_types = frozenset(str(k) for k in data)
        return self._node_types

    async def missing_node_types(self, graph: Mapping[str, Any]) -> list[str]:
        """The graph's class_types this server lacks, sorted. A miss re-reads /object_info
        once, since the user may have installed custom nodes since the last look."""
        wanted = class_types(graph)
        missing = wanted - await self.node_types()
        if missing:
            missing = wanted - await self.node_types(refresh=True)
        return sorted(missing)

    # -- inputs --------------------------------------------------------------------------

    async def upload_image(self, source: bytes | Path | str, *, filename: str | None = None) -> str:
        """Puts an input image in the server's input folder; returns the name a LoadImage node takes.

        The stored name is derived from the content (alice-<sha256 prefix><ext>), so uploading
        the same bytes again overwrites an identical file and a retry is harmless."""
        blob, suffix = _read_input(self, source, filename)
        name = f"alice-{hashlib.sha256(blob).hexdigest()[:20]}{suffix}"
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        data = await self._request("POST", "upload/image", files={"image": (name, blob, media)},
                                   form={"type": "input", "overwrite": "true"}, idempotent=True,
                                   what="upload image")
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
            raise self._malformed("upload answer", f"no name in {str(data)[:200]}")
        subfolder_raw = data.get("subfolder")
        subfolder = subfolder_raw if isinstance(subfolder_raw, str) else ""
        return f"{subfolder}/{data['name']}" if subfolder else data["name"]

    def file_url(self, name: str, *, folder: str = "output") -> str:
        """The /view URL of a file in one of the server's folders (input, output, temp);
        `name` may hold a subfolder ("refs/cat.png"), as LoadImage inputs do."""
        if folder not in ("input", "output", "temp"):
            raise ProviderRequestError(self.name, f"folder must be input, output or temp, not {folder!r}")
        normalized = name.replace("\\", "/")
        subfolder, _, filename = normalized.rpartition("/")
        if not filename or normalized.startswith("/") or ".." in normalized.split("/"):
            raise ProviderRequestError(self.name, f"not a file name in a ComfyUI folder: {name!r}")
        return f"{self.settings.base_url}/view?{urlencode({'filename': filename, 'subfolder': subfolder, 'type': folder})}"

    def input_file(self, name: str, *, folder: str = "input") -> OutputFile:
        """A file a graph loads, as something providers.download.download() can fetch
        (lineage hashes it to find the catalogued parent)."""
        return OutputFile(mimetypes.guess_type(name)[0] or "application/octet-stream",
                          url=self.file_url(name, folder=folder), filename=name.rpartition("/")[2])

    # -- jobs ----------------------------------------------------------------------------

    async def _submit(self, model: str, params: Mapping[str, Any], *,
                      images: Mapping[str, bytes | Path] | None = None, **inputs: Any) -> Job:
        """params: {"graph": <API graph>}. images: {name the graph's loader uses: bytes or path},
        uploaded first and the loaders pointed at the uploaded names."""
        if inputs:
            raise ProviderRequestError(self.name, f"unexpected inputs {sorted(inputs)}; input files go in images=")
        unknown = sorted(set(params) - {"graph"})
        if unknown:
            raise ProviderRequestError(self.name, f"unexpected params {unknown}; ComfyUI takes {{'graph': <API graph>}}")
        graph = params.get("graph")
        try:
            check_graph(graph)
        except RerunError as exc:
            raise ProviderRequestError(self.name, str(exc)) from None
        assert isinstance(graph, Mapping)
        missing = await self.missing_node_types(graph)
        if missing:
            raise ProviderRequestError(
                self.name, f"this ComfyUI server ({self.settings.base_url}) has no node types "
                f"{_listed(missing)}; install the custom nodes that provide them (ComfyUI-Manager finds "
                "them by node name) and restart ComfyUI, or run the graph on a server that has them",
            )
        if images:
            named = {item.name for item in input_images(graph)} | {
                graph[item.node_id]["inputs"][item.input] for item in input_images(graph)}
            unused = sorted(set(images) - named)
            if unused:
                raise ProviderRequestError(
                    self.name, f"images {unused} are not loaded by any node of the graph "
                    f"(its loaders name: {sorted(named) or 'nothing'})")
            renames = {name: await self.upload_image(source, filename=name) for name, source in images.items()}
            graph = rename_inputs(graph, renames)
        data = await self._request("POST", "prompt", json_body={"prompt": dict(graph), "client_id": self.client_id},
                                   what="queue prompt")
        if not isinstance(data, dict) or not isinstance(data.get("prompt_id"), str) or not data["prompt_id"]:
            raise self._malformed("prompt answer", f"no prompt_id in {str(data)[:200]}")
        if data.get("node_errors"):
            # Queued anyway: the outputs that validated will run, the others are skipped.
            self._emit("warning", "provider.node_errors", prompt_id=data["prompt_id"],
                       errors=_node_errors(data["node_errors"]))
        pid = data["prompt_id"]
        return Job(self.name, model, pid, {"history": f"{self.settings.base_url}/history/{pid}"})

    async def _history(self, job: Job) -> dict[str, Any] | None:
        data = await self._request("GET", f"history/{job.request_id}", what="history")
        if not isinstance(data, dict):
            raise self._malformed("history answer", "not a JSON object")
        entry = data.get(job.request_id)
        if entry is None:
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("outputs", {}), dict):
            raise self._malformed("history answer", f"entry for {job.request_id} has no outputs mapping")
        return entry

    async def status(self, job: Job) -> JobStatus:
        entry = await self._history(job)
        if entry is None:
            queued = await self._queue_place(job)
            if queued is not None:
                return queued
            entry = await self._history(job)        # it may have finished between the two reads
            if entry is None:
                return JobStatus(JobState.FAILED, f"ComfyUI no longer knows prompt {job.request_id}: it is "
                                 "neither queued nor in the history (the server restarted or the history "
                                 "was cleared)", None)
        return _entry_status(self, entry)

    async def _queue_place(self, job: Job) -> JobStatus | None:
        data = await self._request("GET", "queue", what="queue")
        if not isinstance(data, dict):
            raise self._malformed("queue answer", "not a JSON object")
        running, pending = data.get("queue_running", []), data.get("queue_pending", [])
        if not isinstance(running, list) or not isinstance(pending, list):
            raise self._malformed("queue answer", "queue_running/queue_pending are not lists")
        if any(_item_id(item) == job.request_id for item in running):
            return JobStatus(JobState.RUNNING, None, data)
        ahead = sorted(_item_number(item) for item in pending)
        for item in pending:
            if _item_id(item) == job.request_id:
                position = sum(1 for n in ahead if n < _item_number(item)) + 1
                return JobStatus(JobState.QUEUED, f"queue position {position} of {len(pending)}", None)
        return None

    async def result(self, job: Job) -> GenerationResult:
        entry = await self._history(job)
        if entry is None:
            raise self._malformed("history answer", f"prompt {job.request_id} is not in the history yet")
        state = _entry_status(self, entry)
        if state.state is not JobState.COMPLETED:
            raise self._malformed("history answer", f"prompt {job.request_id} is {state.state.value}, not completed")
        files = _output_files(self, entry["outputs"])
        saved = [f for f in files if f[0] == "output"] or [f for f in files if f[0] == "temp"]
        if not saved:
            raise self._malformed("history answer", f"prompt {job.request_id} completed but lists no output files")
        outputs = [OutputFile(mimetypes.guess_type(name)[0] or "application/octet-stream",
                              url=self.file_url(f"{subfolder}/{name}" if subfolder else name, folder=kind),
                              filename=name)
                   for kind, subfolder, name in saved]
        raw = {k: v for k, v in entry.items() if k != "prompt"}
        return GenerationResult(self.name, job.model, job.request_id, JobState.COMPLETED, outputs, job.cost_usd, raw)

    def _detail(self, message: str, data: Any) -> str:
        """ComfyUI's refusal, with the node errors it lists (the reason a graph was rejected)."""
        if isinstance(data, dict) and isinstance(data.get("error"), dict) and data["error"].get("details"):
            message = f"{message}: {self._redact(str(data['error']['details']))[:300]}"
        errors = _node_errors(data.get("node_errors")) if isinstance(data, dict) else []
        if errors:
            message = f"{message}; node errors: {'; '.join(errors[:_MAX_LISTED])}"
            if len(errors) > _MAX_LISTED:
                message += f" (and {len(errors) - _MAX_LISTED} more)"
        return self._redact(message)


def _entry_status(provider: Provider, entry: dict[str, Any]) -> JobStatus:
    status = entry.get("status")
    if status is None:                       # servers before the status field: outputs mean done
        return JobStatus(JobState.COMPLETED if entry.get("outputs") else JobState.RUNNING, None, entry)
    if not isinstance(status, dict):
        raise provider._malformed("history answer", f"status is not an object: {str(status)[:100]}")
    messages_raw = status.get("messages")
    messages = messages_raw if isinstance(messages_raw, list) else []
    if status.get("status_str") == "error":
        return JobStatus(JobState.FAILED, _failure(messages), entry)
    if status.get("completed") is True or status.get("status_str") == "success":
        return JobStatus(JobState.COMPLETED, None, entry)
    return JobStatus(JobState.RUNNING, None, entry)


def _failure(messages: list[Any]) -> str:
    for message in messages:
        if not (isinstance(message, list) and len(message) == 2 and isinstance(message[1], dict)):
            continue
        event, data = message
        if event == "execution_error":
            return (f"node {data.get('node_id')} ({data.get('node_type')}) raised "
                    f"{data.get('exception_type', 'an error')}: {str(data.get('exception_message', '')).strip()[:300]}")
        if event == "execution_interrupted":
            return f"interrupted at node {data.get('node_id')} ({data.get('node_type')})"
    return "ComfyUI reported an error without a message"


def _node_errors(node_errors: Any) -> list[str]:
    """"node 3 (KSampler): Value not in list: sampler_name: 'eulr' not in [...]" per error."""
    if not isinstance(node_errors, dict):
        return []
    out: list[str] = []
    for node_id, info in node_errors.items():
        if not isinstance(info, dict):
            continue
        kind = info.get("class_type", "?")
        for err in info.get("errors") or []:
            if isinstance(err, dict):
                text = str(err.get("message") or err.get("type") or "error")
                if err.get("details"):
                    text += f": {err['details']}"
                out.append(f"node {node_id} ({kind}): {text[:200]}")
    return out


def _output_files(provider: Provider, outputs: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, subfolder, filename) for every file a node output lists (images, gifs, videos, audio)."""
    found: list[tuple[str, str, str]] = []
    for node_output in outputs.values():
        if not isinstance(node_output, dict):
            raise provider._malformed("history answer", f"a node output is not an object: {str(node_output)[:100]}")
        for items in node_output.values():
            if not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, dict) or "filename" not in item:
                    continue
                filename = item["filename"]
                if not isinstance(filename, str) or not filename or "/" in filename or "\\" in filename:
                    raise provider._malformed("history answer", f"bad output filename {str(filename)[:100]!r}")
                subfolder_raw = item.get("subfolder")
                subfolder = subfolder_raw if isinstance(subfolder_raw, str) else ""
                kind: str = item["type"] if item.get("type") in ("output", "temp", "input") else "output"
                if ".." in subfolder.replace("\\", "/").split("/"):
                    raise provider._malformed("history answer", f"bad output subfolder {subfolder[:100]!r}")
                found.append((kind, subfolder.strip("/"), filename))
    return found


def _item_id(item: Any) -> Any:
    return item[1] if isinstance(item, list) and len(item) > 1 else None


def _item_number(item: Any) -> float:
    number = item[0] if isinstance(item, list) and item else 0
    return float(number) if isinstance(number, (int, float)) and not isinstance(number, bool) else 0.0


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f" (and {len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else "")


def _read_input(provider: Provider, source: bytes | Path | str, filename: str | None) -> tuple[bytes, str]:
    """(bytes, file suffix) of an input image given as bytes or a path."""
    if isinstance(source, (bytes, bytearray)):
        blob = bytes(source)
        suffix = Path(filename).suffix.lower() if filename else ""
    elif isinstance(source, (str, Path)):
        path = Path(source)
        try:
            if path.stat().st_size > _MAX_INPUT_BYTES:
                raise ProviderRequestError(provider.name, f"input {path} is over {_MAX_INPUT_BYTES} bytes")
            blob = path.read_bytes()
        except OSError as exc:
            raise ProviderRequestError(provider.name, f"cannot read input {path}: {exc.strerror or exc}") from None
        suffix = path.suffix.lower()
    else:
        raise ProviderRequestError(provider.name, f"an input image must be bytes or a path, not {type(source).__name__}")
    if len(blob) > _MAX_INPUT_BYTES:
        raise ProviderRequestError(provider.name, f"input image is over {_MAX_INPUT_BYTES} bytes")
    if not blob:
        raise ProviderRequestError(provider.name, "input image is empty")
    return blob, _sniff_suffix(blob) or suffix or ".png"


def _sniff_suffix(blob: bytes) -> str | None:
    if blob.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if blob.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if blob[:4] == b"RIFF" and blob[8:12] == b"WEBP":
        return ".webp"
    return None
