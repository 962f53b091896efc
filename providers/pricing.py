"""What a request will cost, in US dollars, before it is sent.

Each model has one `Price`: dollars per unit, where the unit is what the
service bills by (an image, a megapixel, a second of video, a million
tokens). Defaults are the services' public list prices when this was written;
they drift, so `providers.<name>.prices` in config overrides them per model.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any

_CENT_FRACTION = Decimal("0.0001")


class Unit(str, Enum):
    IMAGE = "image"                   # per output image
    MEGAPIXEL = "megapixel"           # per output megapixel, rounded up per image
    VIDEO_SECOND = "video_second"     # per second of output video/audio
    MILLION_TOKENS = "million_tokens" # usd = input price; output_usd = output price


class PricingError(ValueError):
    """A price entry is malformed, or a model has no price."""


@dataclass(frozen=True)
class Price:
    unit: Unit
    usd: Decimal
    output_usd: Decimal | None = None      # only for MILLION_TOKENS
    default_quantity: Decimal | None = None  # e.g. a video's default length in seconds

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"unit": self.unit.value, "usd": str(self.usd)}
        if self.output_usd is not None:
            out["output_usd"] = str(self.output_usd)
        return out


@dataclass(frozen=True)
class CostEstimate:
    provider: str
    model: str
    usd: Decimal
    unit: Unit
    quantity: Decimal          # how many units the estimate is for
    basis: str                 # human-readable: "2 image x $0.04"

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider, "model": self.model, "usd": str(self.usd),
            "unit": self.unit.value, "quantity": str(self.quantity), "basis": self.basis,
        }


def _dec(value: Any, what: str) -> Decimal:
    if isinstance(value, bool):
        raise PricingError(f"{what} must be a number, not a boolean")
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise PricingError(f"{what} must be a number, got {value!r}") from exc
    if not d.is_finite() or d < 0:
        raise PricingError(f"{what} must be a finite number >= 0, got {value!r}")
    return d


def parse_price(data: Any, where: str) -> Price:
    """A price from config: {"unit": "image", "usd": 0.04} (output_usd for tokens)."""
    if not isinstance(data, Mapping):
        raise PricingError(f"{where} must be a mapping like {{unit: image, usd: 0.04}}")
    unknown = set(data) - {"unit", "usd", "output_usd", "default_quantity"}
    if unknown:
        raise PricingError(f"{where} has unknown keys {sorted(unknown)}")
    try:
        unit = Unit(data.get("unit"))
    except ValueError:
        raise PricingError(
            f"{where}.unit must be one of {[u.value for u in Unit]}, got {data.get('unit')!r}"
        ) from None
    if "usd" not in data:
        raise PricingError(f"{where}.usd is required")
    output = data.get("output_usd")
    if unit is Unit.MILLION_TOKENS and output is None:
        raise PricingError(f"{where}: token prices need output_usd as well as usd")
    default = data.get("default_quantity")
    return Price(
        unit=unit,
        usd=_dec(data["usd"], f"{where}.usd"),
        output_usd=None if output is None else _dec(output, f"{where}.output_usd"),
        default_quantity=None if default is None else _dec(default, f"{where}.default_quantity"),
    )


@dataclass
class PriceTable:
    provider: str
    prices: dict[str, Price] = field(default_factory=dict)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> PriceTable:
        merged = dict(self.prices)
        for model, entry in (overrides or {}).items():
            merged[str(model)] = parse_price(entry, f"providers.{self.provider}.prices.{model}")
        return PriceTable(self.provider, merged)

    def price(self, model: str) -> Price:
        try:
            return self.prices[model]
        except KeyError:
            raise PricingError(
                f"{self.provider} has no price for model {model!r}; "
                f"add providers.{self.provider}.prices.{model} to the config"
            ) from None

    def estimate(self, model: str, params: Mapping[str, Any]) -> CostEstimate:
        """`params` are billing quantities: num_images, width, height, duration_s,
        input_tokens, output_tokens (providers translate their own request fields)."""
        price = self.price(model)
        count = _dec(params.get("num_images", 1), "num_images")
        if price.unit is Unit.IMAGE:
            qty, usd = count, price.usd * count
            basis = f"{count} image x ${price.usd}"
        elif price.unit is Unit.MEGAPIXEL:
            width = _dec(params.get("width", 1024), "width")
            height = _dec(params.get("height", 1024), "height")
            # fal bills 1024x1024 as one megapixel: the unit is 2**20 pixels, rounded up.
            per_image = Decimal(max(1, math.ceil(width * height / Decimal(1 << 20))))
            qty = per_image * count
            usd = price.usd * qty
            basis = f"{count} image x {per_image} MP x ${price.usd}"
        elif price.unit is Unit.VIDEO_SECOND:
            raw = params.get("duration_s", price.default_quantity)
            if raw is None:
                raise PricingError(f"{self.provider}/{model} is billed per second; give duration_s")
            qty = _dec(raw, "duration_s")
            usd = price.usd * qty
            basis = f"{qty} s x ${price.usd}"
        else:
            tin = _dec(params.get("input_tokens", 0), "input_tokens")
            tout = _dec(params.get("output_tokens", 0), "output_tokens")
            out_price = price.output_usd or Decimal(0)
            qty = (tin + tout) / Decimal(1_000_000)
            usd = (tin * price.usd + tout * out_price) / Decimal(1_000_000)
            basis = f"{tin} in x ${price.usd}/Mtok + {tout} out x ${out_price}/Mtok"
        return CostEstimate(
            provider=self.provider, model=model, unit=price.unit, quantity=qty,
            usd=usd.quantize(_CENT_FRACTION, rounding=ROUND_HALF_UP), basis=basis,
        )
