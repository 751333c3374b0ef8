"""Mission upload and download over a link, robust to what real autopilots do.

Upload: MISSION_COUNT, then answer each request — MISSION_REQUEST_INT or plain
MISSION_REQUEST (ArduPilot asks with the latter) — with MISSION_ITEM_INT; a lost request
or item is recovered by re-sending what the vehicle last needs (the count before the
first request, else the item it asked for last), and a transfer silent for several tries
or cancelled by the vehicle is started again with MISSION_COUNT; MISSION_ACK with an
error ends the upload with the error's name; INVALID_SEQUENCE mid-transfer is not fatal
(the vehicle asks again). A lost final acknowledgement cannot be told from a lost last
item except by reading the mission back. Uploads are not atomic, so `upload_verified`
reads the mission back and compares item by item with what ArduPilot keeps of what was
sent (`missions.formats.ardupilot`; item 0, home, is the vehicle's own and not compared).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from missions.formats.ardupilot import differences, stored
from missions.formats.items import MissionItem
from orchestrator.links.mavlink_link import LinkError, MavlinkLink, command_name

log = logging.getLogger("dronepatrol.links")

MISSION_TYPE_MISSION = 0
MAV_FRAME_MISSION = 2
ACK_NAME = {k: v.name.removeprefix("MAV_MISSION_") for k, v in mavlink2.enums["MAV_MISSION_RESULT"].items()}


class MissionError(LinkError):
    pass


class AckLost(MissionError):
    """Every item was sent and asked for, and the vehicle fell silent: it may hold the
    mission and its acknowledgement was lost. Only a read-back can tell."""


RESTARTS = 3
"""Uploads the vehicle cancelled (it waited too long for an item) that are started again."""
RESTART_AFTER = 3
"""Silent periods mid-transfer before the upload starts again with MISSION_COUNT (the
vehicle's own transfer may have timed out; ArduPilot lets the same sender restart)."""


def _scaled(frame: int) -> bool:
    """MISSION_ITEM_INT carries latitude and longitude as degrees x 1e7 in every frame but
    MAV_FRAME_MISSION, whose x and y are plain parameters (a DO_SET_ROI_LOCATION has a
    position; a DO_CHANGE_SPEED has none)."""
    return frame != MAV_FRAME_MISSION


def _encode(link: MavlinkLink, it: MissionItem) -> Any:
    return link.mav.mission_item_int_encode(
        link.target_system,
        link.target_component,
        it.seq,
        it.frame,
        it.command,
        1 if it.seq == 0 else 0,
        it.autocontinue,
        it.param1,
        it.param2,
        it.param3,
        it.param4,
        round(it.x * 1e7) if _scaled(it.frame) else round(it.x),
        round(it.y * 1e7) if _scaled(it.frame) else round(it.y),
        it.z,
        MISSION_TYPE_MISSION,
    )


async def upload(link: MavlinkLink, items: list[MissionItem], wait_s: float = 1.0, stall_s: float = 10.0) -> None:
    """Send the mission; returns when the vehicle acknowledges it, raises MissionError otherwise.

    On silence, what the vehicle last needed is sent again every `wait_s`; the vehicle
    also re-asks on its own. Silent for `stall_s` in a row, the upload has failed."""
    if not items:
        raise MissionError("a mission needs at least the home item")
    count = len(items)
    started = time.monotonic()

    def relevant(m: Any) -> bool:
        return (
            m.get_type() in ("MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK")
            and getattr(m, "mission_type", 0) == MISSION_TYPE_MISSION
        )

    def send_count() -> None:
        link.send(link.mav.mission_count_encode(link.target_system, link.target_component, count, MISSION_TYPE_MISSION))

    with link.subscribe(relevant) as replies:
        send_count()
        await _converse(link, items, replies, send_count, wait_s, stall_s, started)


async def _converse(
    link: MavlinkLink,
    items: list[MissionItem],
    replies: asyncio.Queue[Any],
    send_count: Callable[[], None],
    wait_s: float,
    stall_s: float,
    started: float,
) -> None:
    count = len(items)
    last_asked: int | None = None
    silent_since = time.monotonic()
    silences = 0
    restarts = 0
    while True:
        try:
            msg = await asyncio.wait_for(replies.get(), wait_s)
        except TimeoutError:
            silences += 1
            if last_asked == count - 1 and silences >= 2:
                raise AckLost(f"no MISSION_ACK after the last of {count} items") from None
            if time.monotonic() - silent_since > stall_s:
                raise MissionError(f"mission upload stalled at item {last_asked} of {count}") from None
            if last_asked is None or silences % RESTART_AFTER == 0:
                log.info("link %s: upload silent at item %s of %d, starting it again", link.name, last_asked, count)
                send_count()
            else:
                log.debug("link %s: upload silent, sending again what item %s needs", link.name, last_asked)
                link.send(_encode(link, items[last_asked]))
            continue
        silences = 0
        silent_since = time.monotonic()
        if msg.get_type() == "MISSION_ACK":
            if msg.type == mavlink2.MAV_MISSION_ACCEPTED:
                if last_asked is not None and last_asked != count - 1:
                    raise MissionError(f"vehicle accepted the mission after item {last_asked} of {count}")
                log.info(
                    "link %s: mission of %d items uploaded in %.2f s", link.name, count, time.monotonic() - started
                )
                return
            if msg.type == mavlink2.MAV_MISSION_INVALID_SEQUENCE:
                continue  # it asks again for the item it wants
            if msg.type == mavlink2.MAV_MISSION_OPERATION_CANCELLED and restarts < RESTARTS:
                # The vehicle gave up waiting for us (a busy ground station): start again.
                restarts += 1
                log.info("link %s: vehicle cancelled the upload at item %s; starting it again", link.name, last_asked)
                last_asked = None
                send_count()
                continue
            why = ACK_NAME.get(msg.type, str(msg.type))
            raise MissionError(f"vehicle refused the mission: {why} (at item {last_asked})")
        seq = int(msg.seq)
        if not 0 <= seq < count:
            raise MissionError(f"vehicle asked for item {seq} of a {count}-item mission")
        last_asked = seq
        link.send(_encode(link, items[seq]))


async def download(link: MavlinkLink, wait_s: float = 1.0, retries: int = 5) -> list[MissionItem]:
    """Read the vehicle's mission (with MISSION_REQUEST_INT per item), asking again on
    silence with growing patience (`_patience`: up to 19 s for one item by default)."""
    count_msg = None
    for attempt in range(retries + 1):
        link.send(link.mav.mission_request_list_encode(link.target_system, link.target_component, MISSION_TYPE_MISSION))
        try:
            count_msg = await link.wait_for("MISSION_COUNT", _patience(wait_s, attempt))
            break
        except TimeoutError:
            continue
    if count_msg is None:
        raise MissionError("no MISSION_COUNT in reply to MISSION_REQUEST_LIST")
    items: list[MissionItem] = []
    for seq in range(int(count_msg.count)):
        got = None
        for attempt in range(retries + 1):
            link.send(
                link.mav.mission_request_int_encode(
                    link.target_system, link.target_component, seq, MISSION_TYPE_MISSION
                )
            )
            try:
                got = await link.wait_for(_item_number(seq), _patience(wait_s, attempt))
                break
            except TimeoutError:
                continue
        if got is None:
            raise MissionError(f"item {seq} of {count_msg.count} never came")
        nav = _scaled(got.frame)
        items.append(
            MissionItem(
                seq,
                got.frame,
                got.command,
                got.param1,
                got.param2,
                got.param3,
                got.param4,
                got.x / 1e7 if nav else float(got.x),
                got.y / 1e7 if nav else float(got.y),
                got.z,
                got.current,
                got.autocontinue,
            )
        )
    link.send(
        link.mav.mission_ack_encode(
            link.target_system, link.target_component, mavlink2.MAV_MISSION_ACCEPTED, MISSION_TYPE_MISSION
        )
    )
    return items


def _patience(wait_s: float, attempt: int) -> float:
    """Each ask waits longer than the last (1, 2, 4, 4 ... s): a vehicle, or a ground
    station sharing a busy machine, that is late is given time rather than asked faster."""
    return float(min(wait_s * 2.0**attempt, 4.0 * wait_s))


def _item_number(seq: int) -> Callable[[Any], bool]:
    def test(m: Any) -> bool:
        return bool(m.get_type() == "MISSION_ITEM_INT" and m.seq == seq)

    return test


async def upload_verified(link: MavlinkLink, items: list[MissionItem], attempts: int = 3) -> list[MissionItem]:
    """Upload, read back, compare; again on a mismatch. Returns what the vehicle holds."""
    for attempt in range(1, attempts + 1):
        try:
            await upload(link, items)
        except AckLost as exc:
            log.info("link %s: %s; reading the mission back to see what the vehicle holds", link.name, exc)
        held = await download(link)
        diff = compare(items, held)
        if diff is None:
            return held
        log.warning("link %s: mission read back differs (%s); upload %d of %d", link.name, diff, attempt, attempts)
    raise MissionError(f"mission read back differs after {attempts} uploads: {diff}")


def compare(sent: list[MissionItem], held: list[MissionItem]) -> str | None:
    """None when the vehicle holds what ArduPilot keeps of what was sent (home excepted:
    the vehicle's own), else the first difference naming the fields that differ."""
    if len(sent) != len(held):
        return f"{len(held)} items held, {len(sent)} sent"
    for a, b in zip(sent[1:], held[1:], strict=True):
        diff = differences(stored(a), b)
        if diff:
            return f"item {a.seq} ({command_name(a.command)}): {', '.join(diff)} (expected!=held)"
    return None


async def set_current(link: MavlinkLink, seq: int, wait_s: float = 1.0, retries: int = 3) -> None:
    """MISSION_SET_CURRENT until MISSION_CURRENT reports `seq`: where AUTO goes on from
    (ArduCopter answers with MISSION_CURRENT, in any mode)."""
    for _ in range(retries + 1):
        link.send(link.mav.mission_set_current_encode(link.target_system, link.target_component, seq))
        try:
            await link.wait_for(lambda m: m.get_type() == "MISSION_CURRENT" and int(m.seq) == seq, wait_s)
            return
        except TimeoutError:
            continue
    raise MissionError(f"link {link.name}: the vehicle did not take item {seq} as current")
