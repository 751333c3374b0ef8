"""Where a drone's MAVLink link is: one URL, so a real drone, ArduPilot SITL and the
simulator differ only in configuration.

    udpout:HOST:PORT   we send first, to the vehicle's port (the sim, SITL's --out)
    udpin:HOST:PORT    we listen; the vehicle (or a router) sends to us ("udp:" too)
    tcp:HOST:PORT      a TCP connection to the vehicle (SITL's 5760)
"""

from __future__ import annotations

from dataclasses import dataclass


class AddressError(ValueError):
    pass


@dataclass(frozen=True)
class LinkAddress:
    kind: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> LinkAddress:
        text = url.strip()
        for prefix in ("udpout", "udpin", "udp", "tcp"):
            for sep in ("://", ":"):
                if text.startswith(prefix + sep):
                    rest = text[len(prefix) + len(sep) :]
                    host, _, port = rest.rpartition(":")
                    if not host or not port.isdigit() or not 0 < int(port) < 65536:
                        raise AddressError(f"'{url}': expected {prefix}:HOST:PORT")
                    return cls("udpin" if prefix == "udp" else prefix, host, int(port))
        if text.startswith(("serial:", "/dev/", "COM")):
            raise AddressError(f"'{url}': serial links are not supported yet; use a MAVLink router to UDP")
        raise AddressError(f"'{url}' is not a MAVLink URL (udpout:HOST:PORT, udpin:HOST:PORT or tcp:HOST:PORT)")

    @property
    def url(self) -> str:
        return f"{self.kind}:{self.host}:{self.port}"
