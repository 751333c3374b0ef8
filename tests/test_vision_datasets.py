"""Training data from several labelled folders: class ids folded onto ours, split by group,
never by image; and the COCO-pretrained start read from a YOLOv5 checkpoint."""

from __future__ import annotations

import csv
import pickle
from collections import defaultdict
from pathlib import Path

import pytest

from vision.datasets import DatasetError, Source, build, group_of, plan_split


@pytest.mark.parametrize(
    ("stem", "group"),
    [
        ("train_fire2_mp4-29_jpg.rf.42a8", "fire2_mp4"),
        ("valid_fire2_mp4-51_jpg.rf.09dd", "fire2_mp4"),
        ("all_Drone2__170_", "Drone2/2"),
        ("all_Drone2__179_", "Drone2/2"),
        ("all_3_13", "crop/1"),
        ("all_7_15", "crop/1"),
        ("all_DJI_0005-0012", "DJI_0005"),
        ("all_DJI-00760-00013", "DJI-00760"),
        ("img_41", "img/2"),
        ("all_smoke_CV000294", "smoke_CV000294"),
    ],
)
def test_frames_of_one_video_or_flight_share_a_group(stem: str, group: str) -> None:
    assert group_of(stem) == group


def _folder(root: Path, name: str, files: dict[str, str]) -> Path:
    src = root / name
    (src / "images").mkdir(parents=True)
    (src / "labels").mkdir()
    for stem, label in files.items():
        (src / "images" / f"{stem}.jpg").write_bytes(b"\xff\xd8\xff\xd9")
        (src / "labels" / f"{stem}.txt").write_text(label, encoding="utf-8")
    return src


def test_class_ids_are_folded_onto_ours_and_empty_boxes_dropped(tmp_path: Path) -> None:
    src = _folder(tmp_path, "dfire", {"a_mp4-1": "0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n1 0.1 0.1 0 0.1\n"})
    entries = plan_split(Source.parse(f"{src}=0:smoke,1:fire"), val_share=0.0)
    assert entries[0].lines == ("1 0.500000 0.500000 0.200000 0.200000", "0 0.300000 0.300000 0.100000 0.100000")
    with pytest.raises(DatasetError, match="class map names person"):
        Source.parse(f"{src}=0:person")
    with pytest.raises(DatasetError, match="give a class map"):
        Source.parse(str(src))
    with pytest.raises(DatasetError, match="not a YOLO folder"):
        Source.parse(str(tmp_path))
    (src / "labels" / "a_mp4-1.txt").write_text("0 0.5 oops\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"a_mp4-1.txt:1"):
        plan_split(Source.parse(f"{src}=0:smoke"))


def test_a_group_goes_to_one_side_whole_and_the_split_is_recorded(tmp_path: Path) -> None:
    files = {f"{video}_mp4-{n}": "0 0.5 0.5 0.1 0.1\n" for video in "abcdefghij" for n in range(6)}
    src = _folder(tmp_path, "cctv", files)
    data = build([Source.parse(f"{src}=0:smoke")], tmp_path / "out", val_share=0.2)
    assert data.is_file()
    sides: dict[str, set[str]] = defaultdict(set)
    with (tmp_path / "out" / "split.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        sides[row["group"]].add(row["split"])
    assert all(len(s) == 1 for s in sides.values()), "no video on both sides"
    val = sum(r["split"] == "val" for r in rows)
    assert 0.15 <= val / len(rows) <= 0.3
    assert len(list((tmp_path / "out" / "images" / "val").iterdir())) == val
    again = plan_split(Source.parse(f"{src}=0:smoke"), val_share=0.2)
    assert {e.image.name for e in again if e.split == "val"} == {r["image"] for r in rows if r["split"] == "val"}


def test_the_real_folders_split_without_a_group_on_both_sides(shared_data: Path, tmp_path: Path) -> None:
    real = shared_data / "real"
    sources = [
        Source.parse(f"{real}/fire_smoke/roboflow_fire-wrpgm_cctv=0:smoke,1:fire"),
        Source.parse(f"{real}/vehicles/catslab_drone-view-vehicles=0:vehicle"),
    ]
    for s in sources:
        entries = plan_split(s)
        sides: dict[str, set[str]] = defaultdict(set)
        for e in entries:
            sides[e.group].add(e.split)
        assert all(len(v) == 1 for v in sides.values()), s.name
        assert len(sides) >= 10, f"{s.name}: frames grouped by video or flight, not one group"
        val = sum(e.split == "val" for e in entries) / len(entries)
        assert 0.1 <= val <= 0.35, (s.name, val)


def test_the_coco_start_carries_the_yolov5_backbone_and_neck(shared_data: Path, tmp_path: Path) -> None:
    # Not importorskip("ultralytics"): imported before vision.offline sets its config folder,
    # ultralytics would look for its font elsewhere and try to download it later.
    pytest.importorskip("torch")
    from vision.pretrained import start_checkpoint

    out, carried, total = start_checkpoint(
        shared_data / "weights" / "yolov5n_coco.pt", "yolov5n.yaml", tmp_path / "s.pt"
    )
    assert out.is_file() and carried == 342 and total > carried, "every tensor but the detection head's"


def test_a_checkpoint_that_names_other_code_is_refused(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from vision.pretrained import yolov5_state

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            import os

            return (os.system, ("true",))

    path = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, path)
    with pytest.raises(pickle.UnpicklingError, match=r"(posix|os)\.system"):
        yolov5_state(path)
