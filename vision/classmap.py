"""Which of a model's class ids mean fire, smoke or vehicle.

A model trained elsewhere numbers its classes its own way (D-Fire: 0 smoke, 1 fire;
VisDrone: several vehicle kinds). A class map folds them onto ours; ids left out are
dropped. Written as ``"0:smoke,1:fire"``; several ids may share one name.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

KNOWN = ("fire", "smoke", "vehicle")


class ClassMapError(ValueError):
    pass


def parse_class_map(text: str) -> dict[int, str]:
    """``"0:smoke,1:fire"`` -> {0: "smoke", 1: "fire"}, with a reason when malformed."""
    out: dict[int, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, name = part.partition(":")
        if not sep or not key.strip().isdigit() or not name.strip():
            raise ClassMapError(f"class map entry {part!r}: expected ID:NAME, e.g. 0:smoke")
        cid = int(key)
        if cid in out:
            raise ClassMapError(f"class map: id {cid} given twice")
        out[cid] = name.strip()
    if not out:
        raise ClassMapError("class map is empty")
    return out


def names_from_metadata(raw: str | Mapping[int, str] | None) -> dict[int, str]:
    """The id -> name table a model carries (ultralytics writes it as a dict literal)."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return {int(k): str(v) for k, v in raw.items()}
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError) as exc:
        raise ClassMapError(f"model metadata 'names' is not readable: {raw[:80]!r}") from exc
    if not isinstance(value, dict):
        raise ClassMapError("model metadata 'names' is not a table of id: name")
    return {int(k): str(v) for k, v in value.items()}


def resolve(model_names: Mapping[int, str], class_map: Mapping[int, str] | None) -> dict[int, str]:
    """The map to use: the given one (checked against the model), else the model's own names
    that are ours. A model with none of our classes and no map is refused."""
    if class_map:
        if model_names:
            unknown = sorted(set(class_map) - set(model_names))
            if unknown:
                raise ClassMapError(
                    f"class map names ids {unknown} the model does not have (it has {sorted(model_names)})"
                )
        return dict(class_map)
    ours = {i: n for i, n in model_names.items() if n in KNOWN}
    if not ours:
        raise ClassMapError(
            f"the model's classes {sorted(set(model_names.values()))[:8]} include none of {', '.join(KNOWN)}; "
            "give a class map such as --classes '0:smoke,1:fire'"
        )
    return ours
