"""Vision's findings onto MQTT (QoS 1, so a broker restart between two reports loses none
that were acknowledged). The orchestrator and the alert bridge subscribe to them."""

from __future__ import annotations

import logging
import uuid

import aiomqtt

from missions.bus_access import BrokerAddress
from missions.vocabulary import findings_topic
from vision.findings import FindingReport

log = logging.getLogger("dronepatrol.bus")


class FindingPublisher:
    def __init__(self, url: str | BrokerAddress, identifier: str | None = None) -> None:
        self.address = url if isinstance(url, BrokerAddress) else BrokerAddress.parse(url)
        # Unique unless given: two detectors with one id would throw each other off the broker.
        self.identifier = identifier or f"dronepatrol-vision-{uuid.uuid4().hex[:8]}"
        self._client: aiomqtt.Client | None = None

    async def start(self) -> None:
        self._client = aiomqtt.Client(**self.address.client_options(), identifier=self.identifier)
        await self._client.__aenter__()

    async def publish(self, report: FindingReport) -> None:
        if self._client is None:
            raise RuntimeError("publisher not started")
        await self._client.publish(findings_topic(report.stream), report.to_json(), qos=1)
        log.info("published finding %s", report.id)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None
