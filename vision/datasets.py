"""One training set from several labelled folders: class ids folded onto ours, split by group.

A source is a YOLO folder (`images/`, `labels/` mirroring it, optionally `data.yaml`) with its own class
numbering (`0:smoke,1:fire` for fire/smoke sets, `0:vehicle` for vehicle sets). Frames of
one video or one flight are near-copies of each other, so a random split per image leaks
validation into training: images are split by *group*, and a whole group goes to one side.

Groups come from a `groups.csv` (`file,group`) in the source when there is one, else from
the file name by the rules in `group_of` (video frames, flight frames, crops of one frame).
The split is deterministic: groups are ordered by a hash of their name and taken for
validation until about `val_share` of the source's images are there, so adding a source
does not move another source's images. `split.csv` beside `data.yaml` lists every image
with its source, group and side, so an evaluation can prove it never saw a training group.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from vision.classmap import KNOWN, parse_class_map

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
CLASSES: tuple[str, ...] = KNOWN
"""The trained model's classes, in this order: fire 0, smoke 1, vehicle 2."""


class DatasetError(ValueError):
    """A source that cannot be used; the message names the file and why."""


@dataclass(frozen=True)
class Source:
    path: Path
    class_map: dict[int, str]
    """The source's label ids -> our class names; ids left out are dropped."""
    name: str

    @staticmethod
    def parse(text: str) -> Source:
        """`PATH` or `PATH=0:smoke,1:fire` (the map defaults to the folder's data.yaml names)."""
        path_text, _, map_text = text.partition("=")
        path = Path(path_text)
        if not (path / "images").is_dir() or not (path / "labels").is_dir():
            raise DatasetError(f"{path}: not a YOLO folder (images/ and labels/ expected)")
        class_map = parse_class_map(map_text) if map_text else _names_from_yaml(path)
        unknown = sorted(set(class_map.values()) - set(CLASSES))
        if unknown:
            raise DatasetError(f"{path}: class map names {', '.join(unknown)}; known: {', '.join(CLASSES)}")
        return Source(path, class_map, path.name)


def _names_from_yaml(path: Path) -> dict[int, str]:
    import yaml

    meta = path / "data.yaml"
    if not meta.is_file():
        raise DatasetError(f"{path}: give a class map (PATH=0:smoke,1:fire) or a data.yaml with names")
    names = yaml.safe_load(meta.read_text(encoding="utf-8")).get("names")
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict):
        raise DatasetError(f"{meta}: no names")
    return {int(k): str(v) for k, v in names.items() if str(v) in CLASSES}


_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?:all|train|valid|test)_"), ""),  # export prefixes: not a group
]
_GROUPS: list[tuple[re.Pattern[str], object]] = [
    (re.compile(r"^(.+_mp4)-\d+"), lambda m: m.group(1)),  # frames of one video
    (re.compile(r"^img_(\d+)"), lambda m: f"img/{int(m.group(1)) // 20}"),  # numbered runs
    (re.compile(r"^(Drone\d*)__(\d+)_"), lambda m: f"{m.group(1)}/{int(m.group(2)) // 60}"),  # one flight
    (re.compile(r"^(\d+)_(\d+)$"), lambda m: f"crop/{int(m.group(2)) // 8}"),  # crops of frame F
    (re.compile(r"^(DJI[-_]\d+)[-_]\d+"), lambda m: m.group(1)),  # frames of one video
]


def group_of(stem: str) -> str:
    """The group an image belongs to, from its file name (see the module's rules)."""
    for pattern, repl in _RULES:
        stem = pattern.sub(repl, stem)
    for pattern, make in _GROUPS:
        m = pattern.match(stem)
        if m:
            return str(make(m))  # type: ignore[operator]
    return stem


def _groups_file(source: Path) -> dict[str, str]:
    path = source / "groups.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        return {row["file"]: row["group"] for row in csv.DictReader(f)}


def _rank(group: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    image: Path
    source: str
    group: str
    split: str
    lines: tuple[str, ...]
    """Label lines with our class ids."""


def plan_split(source: Source, val_share: float = 0.2, seed: int = 0) -> list[Entry]:
    """Every image of `source` with its group, side and labels in our class ids."""
    images = sorted(p for p in (source.path / "images").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DatasetError(f"{source.path}/images: no images")
    overrides = _groups_file(source.path)
    by_group: dict[str, list[Path]] = defaultdict(list)
    for img in images:
        by_group[overrides.get(img.name) or group_of(img.stem)].append(img)
    want = val_share * len(images)
    val: set[str] = set()
    taken = 0
    for g in sorted(by_group, key=lambda g: _rank(g, seed)):
        if taken >= want or len(by_group) - len(val) <= 1:
            break
        val.add(g)
        taken += len(by_group[g])
    out = []
    for g, members in sorted(by_group.items()):
        for img in members:
            lines = _labels(source, img)
            out.append(Entry(img, source.name, g, "val" if g in val else "train", lines))
    return out


def _labels(source: Source, image: Path) -> tuple[str, ...]:
    rel = image.relative_to(source.path / "images").with_suffix(".txt")
    path = source.path / "labels" / rel
    if not path.is_file():
        return ()
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = raw.split()
        if not parts:
            continue
        try:
            cid = int(parts[0])
            cx, cy, w, h = (float(v) for v in parts[1:5])
        except (ValueError, IndexError):
            raise DatasetError(f"{path}:{n}: expected 'class cx cy w h', got {raw!r}") from None
        if w <= 0 or h <= 0:
            continue  # a zero-size box marks nothing
        name = source.class_map.get(cid)
        if name is None:
            continue
        out.append(f"{CLASSES.index(name)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return tuple(out)


def build(sources: list[Source], out: Path, val_share: float = 0.2, seed: int = 0) -> Path:
    """Write a YOLO dataset (links to the images, labels in our ids) and return its data.yaml."""
    import yaml

    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise DatasetError(f"two sources share a folder name: {', '.join(sorted(names))}")
    entries = [e for s in sources for e in plan_split(s, val_share, seed)]
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for e in entries:
        stem = f"{e.source}__{e.image.stem}"
        link = out / "images" / e.split / (stem + e.image.suffix.lower())
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(e.image.resolve(), link)
        (out / "labels" / e.split / (stem + ".txt")).write_text(
            "".join(line + "\n" for line in e.lines), encoding="utf-8"
        )
    with (out / "split.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["image", "source", "group", "split", "boxes"])
        for e in entries:
            w.writerow([e.image.name, e.source, e.group, e.split, len(e.lines)])
    data = {
        "path": str(out.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(CLASSES)),
    }
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out / "data.yaml"


def summary(out: Path) -> dict[str, dict[str, int]]:
    """Images per source and side, from a built dataset's split.csv."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"train": 0, "val": 0})
    with (out / "split.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            counts[row["source"]][row["split"]] += 1
    return dict(counts)
