"""Vision's findings onto MQTT (QoS 1, so a broker restart between two reports loses none
that were acknowledged). The orchestrator and the alert bridge subscribe to them."""

from __future__ import annotations

import logging

import aiomqtt

from missions.vocabulary import findings_topic
from orchestrator.bus.broker import BrokerAddress
from vision.findings import FindingReport

log = logging.getLogger("dronepatrol.bus")


class FindingPublisher:
    def __init__(self, url: str, identifier: str = "dronepatrol-vision") -> None:
        self.address = BrokerAddress.parse(url)
        self.identifier = identifier
        self._client: aiomqtt.Client | None = None

    async def start(self) -> None:
        self._client = aiomqtt.Client(self.address.host, self.address.port, identifier=self.identifier)
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
