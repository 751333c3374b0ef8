"""`dronepatrol`: the command line, and the composition root of the service.

Commands:
  plan       the day's patrol schedule per airport, and what was not scheduled and why
  dispatch   the drone that reaches a point first, with every candidate's ETA
  coverage   the share of the district reached within N minutes, with a map
  sim        the simulated drones (MAVLink on UDP) and docks (MQTT), until stopped
  vision     the detector: train, eval, detect on images, run the pipeline on a stream
  terrain    the ground under the flights: import a DEM into a scenario, show the model
  kmz        DJI KMZ wayline files: what they fly, what a dock would refuse
  demo       the simulated district end to end: simulator, service and API in one process
  serve      the service (scheduler, fleet, API) against the drones and broker in --config

Bad input (a malformed scenario, a point outside the district, an unknown airport) ends
with one line naming the file, the item and the reason, and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from missions.errors import MissionsError
from missions.scenario import Scenario, load_scenario
from missions.vocabulary import SIM_FAULTS
from orchestrator.bus.users import USERS_FILE
from orchestrator.logclock import ClockFormatter
from orchestrator.settings import ConfigError, Settings

log = logging.getLogger("dronepatrol")

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """A command-line value that makes no sense (bad time, bad number)."""


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO time such as 2026-12-02T08:00+08:00") from None


def _latlon(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not LAT,LON") from None
    return lat, lon


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be positive")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dronepatrol", description="Drone patrols from automated drone airports.")
    p.add_argument("--config", type=Path, help="settings file (YAML); default ./dronepatrol.yaml if present")
    sub = p.add_subparsers(dest="command", required=True)

    def scenario_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--scenario", type=Path, help="scenario folder or scenario.yaml (default: built-in Nanshan)")

    sp = sub.add_parser("plan", help="plan the patrols of a day")
    scenario_arg(sp)
    sp.add_argument("--start", type=_time, help="start of the horizon (default: the scenario's day, 00:00 local)")
    sp.add_argument("--hours", type=_positive, default=24.0, help="length of the horizon (default 24)")
    sp.add_argument("--json", action="store_true", help="print JSON instead of text")
    sp.add_argument("--out", type=Path, help="write one .plan per sortie and paths.geojson here")
    sp.add_argument("--kmz", type=Path, metavar="DIR", help="write one DJI KMZ (WPML wayline) per sortie here")
    sp.add_argument(
        "--dock-drone",
        choices=["M3D", "M3TD", "M4D", "M4TD"],
        default="M3D",
        help="the DJI dock's aircraft the KMZ files are written for (default M3D)",
    )

    sp = sub.add_parser("dispatch", help="which drone reaches a point first")
    scenario_arg(sp)
    sp.add_argument("lat", type=float)
    sp.add_argument("lon", type=float)
    sp.add_argument("--at", type=_time, help="time of the alert (default: the scenario's day, 12:00)")
    sp.add_argument("--priority", type=int, default=1, choices=range(1, 6), help="alert priority, 1 most urgent")
    sp.add_argument("--json", action="store_true")

    sp = sub.add_parser("coverage", help="share of the district reached within N minutes")
    scenario_arg(sp)
    sp.add_argument("--minutes", type=_positive, default=5.0)
    sp.add_argument("--cell", type=_positive, default=200.0, help="grid cell size in metres (default 200)")
    sp.add_argument("--png", type=Path, help="write a map image here")
    sp.add_argument("--json", action="store_true")

    sp = sub.add_parser("sim", help="run the simulated drones and docks (MAVLink on UDP, docks on MQTT)")
    scenario_arg(sp)
    sp.add_argument("--speedup", type=_positive, default=1.0, help="simulated seconds per wall second")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--start", type=_time, help="simulated start time (default: the scenario's day, 08:00)")
    sp.add_argument("--mqtt", help="broker URL for the docks (default: start the embedded broker)")
    sp.add_argument(
        "--users",
        type=Path,
        help="where the embedded broker's users and passwords are written (default: <data_dir>/sim/mqtt-users.json)",
    )
    sp.add_argument("--open-docks", action="store_true", help="docks start open with the drone ready")
    sp.add_argument("--base-port", type=int, default=14560, help="first vehicle's UDP port; +10 per vehicle")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--signing-key", help="MAVLink 2 signing key, 64 hex digits (unsigned packets refused)")
    sp.add_argument("--video-port", type=int, default=0, help="HTTP port of the MJPEG streams (0: any free port)")
    sp.add_argument("--video-fps", type=_positive, default=5.0, help="frames per wall second per airborne drone")
    sp.add_argument("--no-video", action="store_true", help="no cameras (MAVLink and docks only)")
    sp.add_argument(
        "--docks-only",
        action="append",
        metavar="AIRPORT=URL",
        help="run only this airport's dock, for a drone flown elsewhere (ArduPilot, PX4, SITL) whose MAVLink "
        "it watches at URL (udpout:/udpin:/tcp:HOST:PORT): its pad and charge follow that drone; repeatable",
    )
    simsub = sp.add_subparsers(dest="sim_command")
    fp = simsub.add_parser("fault", help="inject a fault into a running simulator")
    fp.add_argument("--mqtt", required=True, dest="fault_mqtt", help="the simulator's broker URL")
    fp.add_argument(
        "--users",
        type=Path,
        dest="fault_users",
        help="the simulator's bus users file, to log in as its operator when the URL has no login "
        "(default: <data_dir>/sim/mqtt-users.json)",
    )
    fp.add_argument("--airport", required=True)
    fp.add_argument("--kind", required=True, choices=sorted(SIM_FAULTS))
    fp.add_argument("--value", type=float, default=1.0, help="strength; 0 clears the fault")
    fp.add_argument("--duration", type=float, default=0.0, help="simulated seconds until it clears (0: never)")
    snap = simsub.add_parser("snapshot", help="render one camera frame with its ground truth drawn")
    scenario_arg(snap)
    snap.add_argument("--airport", required=True)
    snap.add_argument("--at", type=_time, help="time (default: the scenario's day, 10:00)")
    snap.add_argument("--target", type=_latlon, help="LAT,LON to look at (default: 45 degrees down, north)")
    snap.add_argument("--out", type=Path, required=True, help="PNG file to write")
    snap.add_argument("--width", type=int, default=1280)
    snap.add_argument("--height", type=int, default=720)
    ds = simsub.add_parser("dataset", help="write a YOLO dataset (fire, smoke, vehicle) rendered from the sim")
    scenario_arg(ds)
    ds.add_argument("--n", type=int, required=True, help="number of images")
    ds.add_argument("--out", type=Path, required=True)
    ds.add_argument("--seed", type=int, default=0, dest="dataset_seed")

    from orchestrator.commands.vision import add_parser as add_vision_parser

    add_vision_parser(sub, scenario_arg)
    from orchestrator.commands.terrain import add_parser as add_terrain_parser

    add_terrain_parser(sub, scenario_arg)
    from orchestrator.commands.kmz import add_parser as add_kmz_parser

    add_kmz_parser(sub)

    sp = sub.add_parser("demo", help="run the simulated district end to end: sim, service, API")
    scenario_arg(sp)
    sp.add_argument("--out", type=Path, help="where to write the demo's files (default: <data_dir>/demo)")
    sp.add_argument("--speedup", type=_positive, default=60.0, help="simulated seconds per wall second (default 60)")
    sp.add_argument("--port", type=int, default=8080, help="API port (default 8080; 0: any free port)")
    sp.add_argument("--hours", type=_positive, default=14.5, help="simulated hours to run (default 14.5)")
    sp.add_argument("--start", type=_time, help="simulated start (default: the scenario's day, 05:50)")
    sp.add_argument(
        "--dji",
        metavar="AIRPORT,...",
        help="airports that are DJI docks on the Cloud API (default xili,taoyuan,nantou,shekou; 'none': all MAVLink)",
    )
    sp.add_argument(
        "--base-port", type=int, help="first simulated drone's UDP port, +10 each (default: free ports found at start)"
    )

    sp = sub.add_parser("serve", help="run the service against the drones and broker in the settings")
    sp.add_argument("--config", type=Path, dest="serve_config", help="settings file (YAML)")
    scenario_arg(sp)

    sp = sub.add_parser(
        "commission",
        help="give each drone in the settings the service's MAVLink signing key, and check it signs with it",
    )
    sp.add_argument("--config", type=Path, dest="serve_config", help="settings file (YAML), as for serve")
    sp.add_argument("--airport", action="append", help="only this airport's drone (repeatable)")
    sp.add_argument("--wait", type=_positive, default=10.0, help="seconds to wait for each drone (default 10)")

    sp = sub.add_parser(
        "bus-users",
        help="the bus's users (made at first start in <data_dir>/mqtt-users.json) as Mosquitto password and ACL files",
    )
    scenario_arg(sp)
    sp.add_argument("--out", type=Path, required=True, help="folder for `passwords` and `acl`")
    return p


def _scenario(args: argparse.Namespace, settings: Settings) -> Scenario:
    path = getattr(args, "scenario", None) or settings.scenario
    scenario = load_scenario(path)
    log.info(
        "scenario %s: %d airports, %d patrols, %d zones",
        scenario.name,
        len(scenario.airports),
        len(scenario.patrols),
        len(scenario.airspace.zones),
    )
    return scenario


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    from missions.planner import plan_day
    from orchestrator.reports.export import write_kmz_files, write_plan_files
    from orchestrator.reports.plan_report import plan_json, plan_text

    sc = _scenario(args, settings)
    start = sc.localize(args.start) if args.start else sc.day_start()
    plan = plan_day(sc, start, args.hours)
    print(json.dumps(plan_json(sc, plan), ensure_ascii=False, indent=2) if args.json else plan_text(sc, plan))
    if args.out:
        files = write_plan_files(sc, plan, args.out)
        log.info("wrote %d mission files and %s", len(files) - 1, files[-1])
    if args.kmz:
        kmz = write_kmz_files(sc, plan, args.kmz, args.dock_drone)
        changed = sorted({note for _, _, notes in kmz for note in notes})
        log.info(
            "wrote %d KMZ files for %s to %s%s", len(kmz), args.dock_drone, args.kmz, "".join(f"; {n}" for n in changed)
        )
    return 0


def cmd_dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from missions.dispatch import dispatch
    from orchestrator.reports.dispatch_report import dispatch_json, dispatch_text

    sc = _scenario(args, settings)
    at = sc.localize(args.at) if args.at else sc.day_start().replace(hour=12)
    decision = dispatch(sc, args.lon, args.lat, at, priority=args.priority)
    print(json.dumps(dispatch_json(decision), ensure_ascii=False, indent=2) if args.json else dispatch_text(decision))
    return 0


def cmd_commission(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when every drone asked for signs with the key, 2 when one does not."""
    import asyncio

    from orchestrator.commands.serve import drone_signing_key
    from orchestrator.links.signing import commission

    key = drone_signing_key(settings)
    if key is None:
        raise UsageError("mavlink_signing is off in the settings: there is no key to give")
    wanted = args.airport or sorted(settings.drones)
    unknown = [a for a in wanted if a not in settings.drones]
    if unknown or not wanted:
        raise UsageError(
            f"no drone in the settings for {', '.join(unknown) or 'any airport'} (drones: {{airport: URL}})"
        )

    async def run() -> list[tuple[str, bool, str]]:
        out = []
        for airport in wanted:
            done = await commission(settings.drones[airport], key, args.wait)
            out.append((airport, done.ok, done.what))
        return out

    results = asyncio.run(run())
    for airport, ok, what in results:
        print(f"{airport} {'ok' if ok else 'FAILED'}: {settings.drones[airport]}: {what}")
    return 0 if all(ok for _, ok, _ in results) else EXIT_BAD_INPUT


def cmd_bus_users(args: argparse.Namespace, settings: Settings) -> int:
    """For a district that runs its own Mosquitto: the same users and rules as the embedded
    broker, one dock user per airport."""
    from orchestrator.bus.users import users_at_first_start, write_mosquitto_files

    sc = _scenario(args, settings)
    users, path, created = users_at_first_start(settings.data_dir, list(sc.airports))
    passwords, acl = write_mosquitto_files(args.out, users)
    print(f"{'created' if created else 'read'} {len(users)} users in {path}")
    print(f"wrote {passwords} (hash it in place: mosquitto_passwd -U {passwords}) and {acl}")
    print("mosquitto.conf: allow_anonymous false")
    print(f"               password_file {passwords.resolve()}")
    print(f"               acl_file {acl.resolve()}")
    print("               (and a TLS listener: cafile, certfile, keyfile, when clients are not on this machine)")
    return 0


def cmd_coverage(args: argparse.Namespace, settings: Settings) -> int:
    from missions.reach import reach
    from orchestrator.reports.coverage_report import coverage_json, coverage_png, coverage_text

    sc = _scenario(args, settings)
    rm = reach(sc, args.minutes, args.cell)
    out = coverage_json(rm)
    if args.png:
        out["png"] = str(coverage_png(sc, rm, args.png))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(coverage_text(sc, rm))
        if args.png:
            print(f"Map: {args.png}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from orchestrator.commands.demo import DEMO_DJI_AIRPORTS, DemoOptions, run_demo

    sc = _scenario(args, settings)
    if args.dji is None:
        dji = DEMO_DJI_AIRPORTS
    else:
        dji = tuple(a.strip() for a in args.dji.split(",") if a.strip() and a.strip() != "none")
        unknown = [a for a in dji if a not in sc.airports]
        if unknown:
            raise UsageError(f"--dji: unknown airport(s) {', '.join(unknown)} (known: {', '.join(sc.airports)})")
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be 0-65535")
    if args.base_port is not None and not 1024 <= args.base_port <= 65535 - 10 * len(sc.airports):
        top = 65535 - 10 * len(sc.airports)
        raise UsageError(f"--base-port must be 1024-{top} ({len(sc.airports)} drones, 10 ports apart)")
    opts = DemoOptions(
        base_port=args.base_port,
        speedup=args.speedup,
        port=args.port,
        start=sc.localize(args.start) if args.start else None,
        hours=args.hours,
        data_dir=args.out or settings.data_dir / "demo",
        dji_airports=dji,
    )
    asyncio.run(run_demo(sc, opts))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from orchestrator.commands.serve import serve

    sc = _scenario(args, settings)
    try:
        asyncio.run(serve(settings, sc))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_sim(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from missions.vocabulary import SimControl
    from orchestrator.commands.sim import fault_sender, run_sim, send_fault

    if args.sim_command == "snapshot":
        from orchestrator.commands.scene import snapshot

        sc = _scenario(args, settings)
        at = sc.localize(args.at) if args.at else sc.day_start().replace(hour=10)
        frame = snapshot(sc, args.airport, at, args.target, args.out, args.width, args.height)
        for tr in frame.truths:
            print(f"{tr.cls} {tr.id} box {' '.join(f'{v:.0f}' for v in tr.box)} at {tr.lat:.6f},{tr.lon:.6f}")
        print(f"wrote {args.out}")
        return 0
    if args.sim_command == "dataset":
        from sim.scene.dataset import write_dataset

        if args.n <= 0:
            raise UsageError("--n must be positive")
        sc = _scenario(args, settings)
        counts = write_dataset(sc, args.n, args.out, seed=args.dataset_seed)
        print(f"wrote {args.n} images to {args.out}: " + ", ".join(f"{n} {c}" for c, n in counts.items()))
        return 0
    if args.sim_command == "fault":
        known = _scenario(args, settings).airports
        if args.airport not in known:
            raise UsageError(f"--airport {args.airport}: unknown airport (known: {', '.join(known)})")
        ctl = SimControl(args.airport, args.kind, args.value, args.duration)
        sender = fault_sender(args.fault_mqtt, args.fault_users or settings.data_dir / "sim" / USERS_FILE)
        asyncio.run(send_fault(sender, ctl))
        return 0
    sc = _scenario(args, settings)
    key = None
    if args.signing_key:
        try:
            key = bytes.fromhex(args.signing_key)
        except ValueError:
            raise UsageError("--signing-key must be hexadecimal") from None
        if len(key) != 32:
            raise UsageError("--signing-key must be 32 bytes (64 hex digits)")
    start = sc.localize(args.start) if args.start else sc.day_start().replace(hour=8)
    docks_only = _docks_only(args.docks_only or [], sc)
    asyncio.run(
        run_sim(
            sc,
            start=start,
            speedup=args.speedup,
            seed=args.seed,
            mqtt=args.mqtt,
            open_docks=args.open_docks,
            base_port=args.base_port,
            host=args.host,
            signing_key=key,
            video=not args.no_video,
            video_port=args.video_port,
            video_fps=args.video_fps,
            docks_only=docks_only,
            users_file=args.users or settings.data_dir / "sim" / USERS_FILE,
        )
    )
    return 0


def _docks_only(given: list[str], sc: Scenario) -> dict[str, str]:
    from orchestrator.links.address import AddressError, LinkAddress

    out: dict[str, str] = {}
    for text in given:
        airport, sep, url = text.partition("=")
        if not sep or not url:
            raise UsageError(f"--docks-only {text}: expected AIRPORT=URL, e.g. shekou=tcp:127.0.0.1:5760")
        if airport not in sc.airports:
            raise UsageError(f"--docks-only {text}: unknown airport '{airport}' (known: {', '.join(sc.airports)})")
        try:
            address = LinkAddress.parse(url)
        except AddressError as exc:
            raise UsageError(f"--docks-only {text}: {exc}") from None
        out[airport] = f"{address.kind}:{address.host}:{address.port}"
    return out


def cmd_vision(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.commands.vision import cmd_vision as run

    return run(args, settings)


def cmd_terrain(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.commands.terrain import cmd_terrain as run

    return run(args, getattr(args, "scenario", None) or settings.scenario)


def cmd_kmz(args: argparse.Namespace, settings: Settings) -> int:
    from orchestrator.commands.kmz import cmd_kmz as run

    return run(args)


COMMANDS = {
    "plan": cmd_plan,
    "dispatch": cmd_dispatch,
    "coverage": cmd_coverage,
    "demo": cmd_demo,
    "serve": cmd_serve,
    "bus-users": cmd_bus_users,
    "commission": cmd_commission,
    "sim": cmd_sim,
    "vision": cmd_vision,
    "terrain": cmd_terrain,
    "kmz": cmd_kmz,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.load(getattr(args, "serve_config", None) or args.config)
    except ConfigError as exc:
        print(f"dronepatrol: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ClockFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"))
    logging.basicConfig(level=settings.log_level, handlers=[handler])
    for noisy in (
        "transitions",
        "amqtt",
        "matplotlib",
        "alembic",
        "httpx",
    ):  # their INFO is for developers, not operators
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        return COMMANDS[args.command](args, settings)
    except (MissionsError, UsageError) as exc:
        print(f"dronepatrol: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
