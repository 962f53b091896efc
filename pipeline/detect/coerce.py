"""Turn the loosely typed values tools write into the types Generation wants.

Tools write seeds as "None", steps as "20.0", cfg as "7,5" or as JSON
numbers, booleans where numbers belong, and lists where strings belong.
Every detector funnels values through here so that one bad field yields
None for that field, never an exception for the whole file.
"""
from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

STR_CAP = 64 * 1024          # one prompt field; longer text is cut, not rejected
RAW_STR_CAP = 256 * 1024     # one string inside Detection.raw
RAW_DEPTH = 40               # raw JSON nesting kept before it is cut
RAW_ITEMS = 5000             # entries per dict/list kept in raw

_NONE_WORDS = {"", "none", "null", "nan", "n/a", "undefined", "-", "random"}
_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INT_CAP = 2**63          # Postgres BIGINT; seeds beyond that are not real seeds


def _clean_number_text(value: str) -> str | None:
    text = value.strip().strip('"\'').replace("_", "")
    if text.lower() in _NONE_WORDS:
        return None
    # European decimal comma ("7,5") but not thousands groups ("1,024")
    if text.count(",") == 1 and "." not in text and not re.search(r",\d{3}$", text):
        text = text.replace(",", ".")
    else:
        text = text.replace(",", "")
    return text if _NUM_RE.match(text) else None


def to_float(value: Any) -> float | None:
    """A finite float, or None if the value is missing or not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        result = float(value) if not isinstance(value, int) or abs(value) < 2**1023 else None
    elif isinstance(value, (str, bytes)):
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if len(value) > 64:
            return None
        text = _clean_number_text(value)
        if text is None:
            return None
        try:
            result = float(text)
        except (ValueError, OverflowError):
            return None
    elif isinstance(value, (list, tuple)) and len(value) == 1:
        return to_float(value[0])
    else:
        return None
    if result is None or not math.isfinite(result):
        return None
    return result


def to_int(value: Any) -> int | None:
    """An integer ("20.0" -> 20, 20.7 -> None, "None" -> None)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -_INT_CAP <= value < _INT_CAP * 2 else None
    if isinstance(value, (str, bytes)):
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        text = _clean_number_text(value) if len(value) <= 64 else None
        if text is None:
            return None
        if re.fullmatch(r"[+-]?\d+", text):
            result = int(text)
            return result if -_INT_CAP <= result < _INT_CAP * 2 else None
        value = to_float(text)
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return to_int(value[0])
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        result = int(value)
        return result if -_INT_CAP <= result < _INT_CAP * 2 else None
    return None


def to_str(value: Any, cap: int = STR_CAP) -> str | None:
    """Trimmed text, or None for missing/empty. Numbers become their text form."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        value = str(value)
    if not isinstance(value, str):
        return None
    value = _scrub(value).strip()
    if not value:
        return None
    return value[:cap]


def _scrub(text: str) -> str:
    """Drop what PostgreSQL text/JSONB and YAML reject: NUL and lone surrogates (from JSON "\\ud800")."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def to_mapping(value: Any) -> dict[str, Any]:
    """The value if it is a JSON object, else an empty one: a record's optional sub-object."""
    return value if isinstance(value, dict) else {}


def to_size(value: Any) -> tuple[int | None, int | None]:
    """"512x768" / "512 x 768" / [512, 768] / {"width":..,"height":..} -> (w, h)."""
    if isinstance(value, dict):
        return to_int(value.get("width")), to_int(value.get("height"))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return to_int(value[0]), to_int(value[1])
    text = to_str(value, 64)
    if text:
        match = re.fullmatch(r"\s*(\d{1,6})\s*[x×X*,]\s*(\d{1,6})\s*", text)
        if match:
            return int(match.group(1)), int(match.group(2))
    return None, None


_DATE_FORMATS = (
    "%Y:%m:%d %H:%M:%S",       # EXIF
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y:%m:%d %H:%M:%S%z",
    "%a, %d %b %Y %H:%M:%S %z",
    "%Y/%m/%d %H:%M:%S",
    "%Y%m%d%H%M%S",
)


def to_datetime(value: Any) -> datetime | None:
    """Parse the date forms tools write (ISO 8601, EXIF, epoch seconds/ms)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)):
        seconds = float(value)
        if seconds > 1e11:          # milliseconds
            seconds /= 1000.0
        if not 0 < seconds < 32503680000:   # before year 3000
            return None
        return datetime.fromtimestamp(seconds, tz=UTC)
    text = to_str(value, 64)
    if not text:
        return None
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return to_datetime(float(text))
    iso = text.replace("Z", "+00:00") if text.endswith("Z") else text
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def to_iso(value: Any) -> str | None:
    """ISO 8601 text for Generation.created_at, or None if unparseable."""
    parsed = to_datetime(value)
    if parsed is None:
        return None
    if parsed.year < 1970 or parsed.year > 2999:
        return None
    return parsed.isoformat()


def json_safe(value: Any, cap: int = RAW_STR_CAP, _depth: int = 0) -> Any:
    """A copy of `value` that json.dumps accepts, with strings and nesting capped."""
    if _depth == 0 and isinstance(value, (dict, list)):
        fast = _already_safe(value, cap)
        if fast is not None:
            return fast
    if _depth > RAW_DEPTH:
        return "…(nesting cut)"
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_INT_CAP <= value < _INT_CAP * 2 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        value = _scrub(value)
        return value if len(value) <= cap else value[:cap] + "…(cut)"
    if isinstance(value, dict):
        out = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= RAW_ITEMS:
                out["…"] = f"{len(value) - RAW_ITEMS} more entries cut"
                break
            out[_scrub(str(key))[:256]] = json_safe(item, cap, _depth + 1)
        return out
    if isinstance(value, (list, tuple, set)):
        items = list(value)
        out_list = [json_safe(item, cap, _depth + 1) for item in items[:RAW_ITEMS]]
        if len(items) > RAW_ITEMS:
            out_list.append(f"…{len(items) - RAW_ITEMS} more items cut")
        return out_list
    return to_str(str(value), cap)


def _already_safe(value: dict | list, cap: int) -> Any:
    """Most records are small parsed JSON: one C round trip proves them safe (no string can
    exceed `cap` if the whole text does not). None means "walk it"."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    if len(text) > cap or "\\u0000" in text:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return json.loads(text)
