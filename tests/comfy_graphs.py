"""ComfyUI API graphs built from the node classes and input names ComfyUI and popular
custom nodes use, one per multi-pass layout and link pattern the walk must handle.

Node ids are deliberately arbitrary: the walk must not depend on them.
"""
from __future__ import annotations

from typing import Any


def _text(text: Any) -> dict:
    return {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["ckpt", 1]}}


def sdxl_base_refiner() -> dict:
    """SDXL base + refiner: two KSamplerAdvanced; the refiner adds no noise, so its noise_seed 0 is unused."""
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
        "ref": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_refiner_1.0.safetensors"}},
        "pos": _text("a lighthouse at dusk"),
        "neg": _text("blurry"),
        "rpos": {"class_type": "CLIPTextEncodeSDXLRefiner", "inputs": {"text": "a lighthouse at dusk",
                                                                       "ascore": 6, "clip": ["ref", 1]}},
        "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "10": {"class_type": "KSamplerAdvanced", "inputs": {
            "add_noise": "enable", "noise_seed": 111, "steps": 25, "cfg": 8, "sampler_name": "dpmpp_2m",
            "scheduler": "karras", "start_at_step": 0, "end_at_step": 20, "return_with_leftover_noise": "enable",
            "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["lat", 0]}},
        "11": {"class_type": "KSamplerAdvanced", "inputs": {
            "add_noise": "disable", "noise_seed": 0, "steps": 25, "cfg": 8, "sampler_name": "dpmpp_2m",
            "scheduler": "karras", "start_at_step": 20, "end_at_step": 10000, "return_with_leftover_noise": "disable",
            "model": ["ref", 0], "positive": ["rpos", 0], "negative": ["neg", 0], "latent_image": ["10", 0]}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["11", 0], "vae": ["ref", 2]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["dec", 0], "filename_prefix": "sdxl"}},
    }


def two_custom_advanced() -> dict:
    """Flux-style: two SamplerCustomAdvanced passes with their own noise, scheduler and sampler select."""
    return {
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "fp8"}},
        "clip": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "t5xxl.safetensors", "clip_name2": "l"}},
        "txt": {"class_type": "CLIPTextEncode", "inputs": {"text": "a glass city", "clip": ["clip", 0]}},
        "fg": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["txt", 0]}},
        "g1": {"class_type": "BasicGuider", "inputs": {"model": ["unet", 0], "conditioning": ["fg", 0]}},
        "n1": {"class_type": "RandomNoise", "inputs": {"noise_seed": 42}},
        "sel1": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "sch1": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 20, "denoise": 1.0,
                                                          "model": ["unet", 0]}},
        "lat": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 768, "batch_size": 1}},
        "s1": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["n1", 0], "guider": ["g1", 0],
                                                                 "sampler": ["sel1", 0], "sigmas": ["sch1", 0],
                                                                 "latent_image": ["lat", 0]}},
        "up": {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["s1", 0], "upscale_method": "bislerp",
                                                          "scale_by": 1.5}},
        "n2": {"class_type": "RandomNoise", "inputs": {"noise_seed": 43}},
        "sel2": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "dpmpp_2m"}},
        "sch2": {"class_type": "BasicScheduler", "inputs": {"scheduler": "beta", "steps": 10, "denoise": 0.35,
                                                          "model": ["unet", 0]}},
        "s2": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["n2", 0], "guider": ["g1", 0],
                                                                 "sampler": ["sel2", 0], "sigmas": ["sch2", 0],
                                                                 "latent_image": ["up", 0]}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["s2", 0], "vae": ["unet", 0]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["dec", 0], "filename_prefix": "flux"}},
    }


def wan22_high_low() -> dict:
    """Wan 2.2: a high-noise and a low-noise model, each sampling half the steps."""
    return {
        "hi": {"class_type": "UNETLoader", "inputs": {"unet_name": "wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors",
                                                      "weight_dtype": "default"}},
        "lo": {"class_type": "UNETLoader", "inputs": {"unet_name": "wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors",
                                                      "weight_dtype": "default"}},
        "mhi": {"class_type": "ModelSamplingSD3", "inputs": {"shift": 8.0, "model": ["hi", 0]}},
        "mlo": {"class_type": "ModelSamplingSD3", "inputs": {"shift": 8.0, "model": ["lo", 0]}},
        "clip": {"class_type": "CLIPLoader", "inputs": {"clip_name": "umt5_xxl.safetensors", "type": "wan"}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat surfing", "clip": ["clip", 0]}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"text": "static", "clip": ["clip", 0]}},
        "lat": {"class_type": "EmptyHunyuanLatentVideo", "inputs": {"width": 1280, "height": 704, "length": 81,
                                                                   "batch_size": 1}},
        "57": {"class_type": "KSamplerAdvanced", "inputs": {
            "add_noise": "enable", "noise_seed": 777, "steps": 20, "cfg": 3.5, "sampler_name": "euler",
            "scheduler": "simple", "start_at_step": 0, "end_at_step": 10, "return_with_leftover_noise": "enable",
            "model": ["mhi", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["lat", 0]}},
        "58": {"class_type": "KSamplerAdvanced", "inputs": {
            "add_noise": "disable", "noise_seed": 0, "steps": 20, "cfg": 3.5, "sampler_name": "euler",
            "scheduler": "simple", "start_at_step": 10, "end_at_step": 10000, "return_with_leftover_noise": "disable",
            "model": ["mlo", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["57", 0]}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["58", 0], "vae": ["hi", 0]}},
        "vid": {"class_type": "CreateVideo", "inputs": {"images": ["dec", 0], "fps": 16}},
        "save": {"class_type": "SaveVideo", "inputs": {"video": ["vid", 0], "filename_prefix": "wan"}},
    }


def pixel_hires_fix() -> dict:
    """Hires fix in pixel space: decode, upscale the image, encode, sample again at low denoise."""
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple",
                 "inputs": {"ckpt_name": "waiIllustriousSDXL_v160.safetensors"}},
        "pos": _text("1girl, library"),
        "neg": _text("lowres"),
        "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": 832, "height": 1216, "batch_size": 1}},
        "a": {"class_type": "KSampler", "inputs": {"seed": 5150, "steps": 28, "cfg": 6,
                                               "sampler_name": "euler_ancestral", "scheduler": "normal",
                                               "denoise": 1, "model": ["ckpt", 0],
                                               "positive": ["pos", 0], "negative": ["neg", 0],
                                               "latent_image": ["lat", 0]}},
        "d1": {"class_type": "VAEDecode", "inputs": {"samples": ["a", 0], "vae": ["ckpt", 2]}},
        "sc": {"class_type": "ImageScaleBy", "inputs": {"image": ["d1", 0], "upscale_method": "lanczos",
                                                        "scale_by": 1.5}},
        "e": {"class_type": "VAEEncode", "inputs": {"pixels": ["sc", 0], "vae": ["ckpt", 2]}},
        "b": {"class_type": "KSampler", "inputs": {"seed": 9, "steps": 15, "cfg": 6, "sampler_name": "dpmpp_2m",
                                               "scheduler": "karras", "denoise": 0.45, "model": ["ckpt", 0],
                                               "positive": ["pos", 0], "negative": ["neg", 0],
                                               "latent_image": ["e", 0]}},
        "d2": {"class_type": "VAEDecode", "inputs": {"samples": ["b", 0], "vae": ["ckpt", 2]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["d2", 0], "filename_prefix": "hires"}},
    }


def routed_through_custom_nodes() -> dict:
    """Prompt through custom text nodes, model through an index switch, a LoRA stack with one slot Off,
    a negative chosen by a boolean switch, and a seed from a seed node."""
    return {
        "ckptA": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "animagine.safetensors"}},
        "ckptB": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "ponyRealism_v22.safetensors"}},
        "msw": {"class_type": "CR Model Input Switch", "inputs": {"Input": 2, "model1": ["ckptA", 0],
                                                                  "model2": ["ckptB", 0]}},
        "stack": {"class_type": "CR LoRA Stack", "inputs": {
            "switch_1": "On", "lora_name_1": "add_detail.safetensors", "model_weight_1": 1, "clip_weight_1": 1,
            "switch_2": "Off", "lora_name_2": "disabled_style.safetensors", "model_weight_2": 1, "clip_weight_2": 1,
            "switch_3": "On", "lora_name_3": "None", "model_weight_3": 1, "clip_weight_3": 1}},
        "apply": {"class_type": "CR Apply LoRA Stack", "inputs": {"model": ["msw", 0], "clip": ["ckptB", 1],
                                                                  "lora_stack": ["stack", 0]}},
        "tm": {"class_type": "Text Multiline", "inputs": {"text": "a knight in the rain"}},
        "show": {"class_type": "ShowText|pysssss", "inputs": {"text": ["tm", 0]}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"text": ["show", 0], "clip": ["apply", 1]}},
        "negA": {"class_type": "CLIPTextEncode", "inputs": {"text": "worst quality", "clip": ["apply", 1]}},
        "negB": {"class_type": "CLIPTextEncode", "inputs": {"text": "cartoon", "clip": ["apply", 1]}},
        "nsw": {"class_type": "Switch any [Crystools]", "inputs": {"on_true": ["negA", 0], "on_false": ["negB", 0],
                                                                   "boolean": False}},
        "seed": {"class_type": "Seed (rgthree)", "inputs": {"seed": 8675309}},
        "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": 896, "height": 1152, "batch_size": 1}},
        "k": {"class_type": "KSampler", "inputs": {"seed": ["seed", 0], "steps": 30, "cfg": 5.5,
                                               "sampler_name": "dpmpp_2m_sde", "scheduler": "karras", "denoise": 1,
                                               "model": ["apply", 0], "positive": ["pos", 0],
                                               "negative": ["nsw", 0], "latent_image": ["lat", 0]}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["k", 0], "vae": ["ckptB", 2]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["dec", 0], "filename_prefix": "routed"}},
    }


def switch_cycle() -> dict:
    """Two switch nodes whose chosen branches point at each other, on the prompt and the model path."""
    graph = routed_through_custom_nodes()
    graph["sw1"] = {"class_type": "ImpactSwitch", "inputs": {"select": 1, "input1": ["sw2", 0], "input2": ["tm", 0]}}
    graph["sw2"] = {"class_type": "ImpactSwitch", "inputs": {"select": 2, "input1": ["tm", 0], "input2": ["sw1", 0]}}
    graph["pos"]["inputs"]["text"] = ["sw1", 0]
    graph["msw"]["inputs"]["model2"] = ["msw", 0]
    return graph
