"""ComfyUI's HTTP API (server.py): /prompt validates and queues a graph, each
/history/{id} poll moves the prompt one step along `steps` (queued -> running ->
done | error) while /queue shows where it waits, /view serves what SaveImage
wrote, /upload/image stores input images, /object_info lists `node_types`."""
from __future__ import annotations

import io
import json
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .server import FakeService, Reply, Request, Steps

CORE_NODES = ("CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "KSamplerAdvanced",
              "VAEDecode", "VAEEncode", "SaveImage", "PreviewImage", "LoadImage", "LoraLoader",
              "PrimitiveNode")
OUTPUT_NODES = {"SaveImage": "output", "PreviewImage": "temp"}
SAMPLERS = ["euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_sde"]


def output_png(graph: dict[str, Any], seed: int) -> bytes:
    """What SaveImage writes: a PNG with the API graph in its `prompt` text chunk."""
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (seed % 256, (seed // 256) % 256, 90)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


class FakeComfyUI(FakeService):
    def setup_routes(self) -> None:
        self.node_types: set[str] = set(CORE_NODES)
        self.steps = ["queued", "running", "done"]      # the last may be "error" instead of "done"
        self.error = {"exception_type": "torch.OutOfMemoryError", "exception_message": "CUDA out of memory.",
                      "node_id": "3", "node_type": "KSampler"}
        self.checkpoints = ["sd_xl_base_1.0.safetensors", "juggernaut.safetensors"]
        self.prompts: dict[str, dict[str, Any]] = {}
        self.inputs: dict[str, bytes] = {"existing.png": b"\x89PNG preloaded"}   # the server's input folder
        self.uploads: list[dict[str, Any]] = []
        self.outputs: dict[tuple[str, str, str], bytes] = {}
        self.number = 0
        self.route("POST", r"/prompt", "prompt", self._prompt)
        self.route("GET", r"/history/(?P<pid>[^/]+)", "history", self._history)
        self.route("GET", r"/queue", "queue", self._queue)
        self.route("GET", r"/view", "view", self._view)
        self.route("POST", r"/upload/image", "upload", self._upload)
        self.route("GET", r"/object_info", "object_info", self._object_info)

    def auth_ok(self, headers: dict[str, str]) -> bool:
        return True            # a local ComfyUI has no authentication

    # -- /prompt ------------------------------------------------------------------------

    def _prompt(self, req: Request, m: Any) -> Reply:
        try:
            body = req.json()
        except ValueError:
            return Reply(400, {"error": {"type": "invalid_prompt", "message": "body is not JSON",
                                         "details": "", "extra_info": {}}, "node_errors": {}})
        graph = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(graph, dict):
            return Reply(400, {"error": {"type": "no_prompt", "message": "No prompt provided", "details": "",
                                         "extra_info": {}}, "node_errors": {}})
        for node_id, node in graph.items():
            kind = node.get("class_type") if isinstance(node, dict) else None
            if kind not in self.node_types:
                return Reply(400, {"error": {"type": "missing_node_type",
                                             "message": f"Node '{kind}' not found. The custom node may not be installed.",
                                             "details": f"Node ID '#{node_id}'", "extra_info": {}},
                                   "node_errors": {}})
        if not any(n["class_type"] in OUTPUT_NODES for n in graph.values()):
            return Reply(400, {"error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs",
                                         "details": "", "extra_info": {}}, "node_errors": {}})
        node_errors = self._validate(graph)
        if node_errors:
            return Reply(400, {"error": {"type": "prompt_outputs_failed_validation",
                                         "message": "Prompt outputs failed validation", "details": "",
                                         "extra_info": {}}, "node_errors": node_errors})
        pid = str(uuid.uuid4())
        self.number += 1
        self.prompts[pid] = {"graph": graph, "client_id": body.get("client_id"), "number": self.number,
                             "steps": Steps(self.steps), "state": "queued"}
        return Reply(200, {"prompt_id": pid, "number": self.number, "node_errors": {}})

    def _validate(self, graph: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}

        def add(node_id: str, kind: str, message: str, details: str) -> None:
            errors.setdefault(node_id, {"errors": [], "dependent_outputs": [], "class_type": kind})
            errors[node_id]["errors"].append({"type": "value_not_in_list", "message": message,
                                              "details": details, "extra_info": {}})

        for node_id, node in graph.items():
            inputs, kind = node.get("inputs", {}), node["class_type"]
            if kind.startswith("KSampler") and inputs.get("sampler_name") not in SAMPLERS:
                add(node_id, kind, "Value not in list",
                    f"sampler_name: '{inputs.get('sampler_name')}' not in {SAMPLERS}")
            if kind == "CheckpointLoaderSimple" and inputs.get("ckpt_name") not in self.checkpoints:
                add(node_id, kind, "Value not in list",
                    f"ckpt_name: '{inputs.get('ckpt_name')}' not in {self.checkpoints}")
            if kind == "LoadImage" and inputs.get("image") not in self.inputs:
                errors.setdefault(node_id, {"errors": [], "dependent_outputs": [], "class_type": kind})
                errors[node_id]["errors"].append({"type": "custom_validation_failed",
                                                  "message": "Custom validation failed for node",
                                                  "details": f"image - Invalid image file: {inputs.get('image')}",
                                                  "extra_info": {}})
        return errors

    # -- progress -----------------------------------------------------------------------

    def _history(self, req: Request, m: Any) -> Reply:
        pid = m["pid"]
        job = self.prompts.get(pid)
        if job is None:
            return Reply(200, {})
        steps: Steps = job["steps"]
        job["state"] = steps.states[-1] if steps.done else steps.next()
        if job["state"] in ("queued", "running"):
            return Reply(200, {})
        return Reply(200, {pid: self._entry(pid, job)})

    def _entry(self, pid: str, job: dict[str, Any]) -> dict[str, Any]:
        graph = job["graph"]
        prompt = [job["number"], pid, graph, {"client_id": job["client_id"]}, [k for k, n in graph.items()
                                                                              if n["class_type"] in OUTPUT_NODES]]
        if job["state"] == "error":
            return {"prompt": prompt, "outputs": {}, "meta": {},
                    "status": {"status_str": "error", "completed": False, "messages": [
                        ["execution_start", {"prompt_id": pid, "timestamp": 1}],
                        ["execution_error", {"prompt_id": pid, "executed": [], "traceback": ["..."],
                                             "current_inputs": {}, "current_outputs": {}, **self.error}]]}}
        if "outputs" not in job:
            job["outputs"] = self._run(graph)
        return {"prompt": prompt, "outputs": job["outputs"], "meta": {},
                "status": {"status_str": "success", "completed": True, "messages": [
                    ["execution_start", {"prompt_id": pid, "timestamp": 1}],
                    ["execution_success", {"prompt_id": pid, "timestamp": 2}]]}}

    def _run(self, graph: dict[str, Any]) -> dict[str, Any]:
        seed = next((n["inputs"].get("seed") for n in graph.values() if n["class_type"].startswith("KSampler")
                     and isinstance(n["inputs"].get("seed"), int)), 0)
        outputs: dict[str, Any] = {}
        for node_id, node in graph.items():
            folder = OUTPUT_NODES.get(node["class_type"])
            if folder is None:
                continue
            prefix = node["inputs"].get("filename_prefix", "ComfyUI")
            name = f"{prefix}_{len(self.outputs) + 1:05d}_.png"
            self.outputs[(folder, "", name)] = output_png(graph, seed)
            outputs[node_id] = {"images": [{"filename": name, "subfolder": "", "type": folder}]}
        return outputs

    def _queue(self, req: Request, m: Any) -> Reply:
        def item(pid: str) -> list[Any]:
            job = self.prompts[pid]
            return [job["number"], pid, job["graph"], {"client_id": job["client_id"]}, []]
        running = [item(pid) for pid, job in self.prompts.items() if job["state"] == "running"]
        pending = [item(pid) for pid, job in self.prompts.items() if job["state"] == "queued"]
        return Reply(200, {"queue_running": running, "queue_pending": pending})

    # -- files ----------------------------------------------------------------------------

    def _view(self, req: Request, m: Any) -> Reply:
        folder, subfolder, filename = ((req.query.get(k) or [""])[0] for k in ("type", "subfolder", "filename"))
        if folder == "input":
            data = self.inputs.get(f"{subfolder}/{filename}" if subfolder else filename)
        else:
            data = self.outputs.get((folder, subfolder, filename))
        if data is None:
            return Reply(404, b"", content_type="text/plain")
        return Reply(200, data, content_type="image/png")

    def _upload(self, req: Request, m: Any) -> Reply:
        ctype = req.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return Reply(400, b"", content_type="text/plain")
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + req.body)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[name] = (part.get_filename(), part.get_payload(decode=True))
        image = fields.get("image")
        if image is None or not image[0]:
            return Reply(400, b"", content_type="text/plain")
        filename, data = image
        folder_type = (fields.get("type") or (None, b"input"))[1].decode()
        subfolder = (fields.get("subfolder") or (None, b""))[1].decode()
        overwrite = (fields.get("overwrite") or (None, b""))[1].decode()
        self.uploads.append({"filename": filename, "type": folder_type, "overwrite": overwrite, "size": len(data)})
        stored = f"{subfolder}/{filename}" if subfolder else filename
        self.inputs[stored] = data
        return Reply(200, {"name": filename, "subfolder": subfolder, "type": folder_type})

    def _object_info(self, req: Request, m: Any) -> Reply:
        return Reply(200, {kind: {"input": {"required": {}}, "output": [], "name": kind, "display_name": kind,
                                  "category": "fake", "output_node": kind in OUTPUT_NODES}
                           for kind in sorted(self.node_types)})
