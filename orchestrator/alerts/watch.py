"""Vision on the drones answering alerts: while a drone flies for an alert, the service
itself runs the vision pipeline on that drone's video (the settings' `video:` sources),
so what it sees over the spot becomes findings, incidents and CAP even where no separate
vision service watches it. Findings go out on the bus like any vision service's, and come
back in through the same subscription (stored, evidence kept, merged into incidents).

Only the answering drones: two cores cannot watch every patrol's video beside the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from missions.scenario import Scenario
from missions.vocabulary import findings_topic
from orchestrator.bus.client import BusClient
from orchestrator.scheduler.day import DayScheduler
from orchestrator.store import Store
from orchestrator.video.live_view import LiveView
from orchestrator.video.vision_config import ServiceVision
from vision.findings import FindingReport
from vision.ingest import StreamIngest
from vision.pipeline import VisionPipeline, VisionZone

log = logging.getLogger("dronepatrol.alerts")


class AlertWatch:
    def __init__(
        self,
        scenario: Scenario,
        store: Store,
        scheduler: DayScheduler,
        live: LiveView,
        bus: BusClient,
        vision: ServiceVision,
    ) -> None:
        self.scenario = scenario
        self.store = store
        self.scheduler = scheduler
        self.live = live
        self.bus = bus
        self.vision = vision
        self.watching: dict[str, str] = {}
        """Drone -> the alert sortie it flies, while its video is watched."""

    def answering(self) -> dict[str, str]:
        """Drones in the air for an alert now, with their sortie."""
        out: dict[str, str] = {}
        for run in self.scheduler.running.values():
            row = self.store.sortie(run.sortie_id)
            if row is not None and row.alert_id and row.state == "airborne" and run.drone in self.live.urls:
                out[run.drone] = run.sortie_id
        return out

    def _pipeline(self, loop: asyncio.AbstractEventLoop) -> VisionPipeline:
        detector = self.vision.detector()
        zones = [VisionZone.from_scenario(z) for z in self.scenario.incidents.detection_zones]

        def publish(report: FindingReport) -> None:  # from the pipeline's thread
            asyncio.run_coroutine_threadsafe(
                self.bus.publish(findings_topic(report.stream), report.to_json(), qos=1), loop
            )

        return VisionPipeline(
            detector,
            self.scenario.frame,
            self.scenario.incidents.no_parking,
            zones,
            config=self.vision.pipeline_config(),
            on_finding=publish,
        )

    async def run(self, stop: asyncio.Event, every_s: float = 0.5) -> None:
        if not self.live.urls:
            return
        loop = asyncio.get_running_loop()
        pipe = await asyncio.to_thread(self._pipeline, loop)  # loading the model is not the loop's work
        pipe.start()
        try:
            while not stop.is_set():
                wanted = self.answering()
                for drone in [d for d in self.watching if d not in wanted]:
                    pipe.remove_stream(drone)
                    self.live.watch(drone, -1)
                    log.info("vision: stopped watching %s (sortie %s)", drone, self.watching.pop(drone))
                for drone, sortie in wanted.items():
                    if drone not in self.watching:
                        self.live.watch(drone, +1)
                        pipe.add_stream(StreamIngest(drone, self.live.urls[drone]), sortie=sortie)
                        self.watching[drone] = sortie
                        log.info("vision: watching %s's video (sortie %s, for an alert)", drone, sortie)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every_s)
        finally:
            for drone in list(self.watching):
                pipe.remove_stream(drone)
                self.live.watch(drone, -1)
            self.watching.clear()
            await asyncio.to_thread(pipe.stop)
