"""The patrol domain: geometry, airspace, fleet models, patrols, planning and formats.

Everything in this package is pure and synchronous: no sockets, no asyncio, and no
clock read from the wall. Times are passed in as timezone-aware datetimes, so every
result is a function of its inputs and tests run fast and deterministically.
"""
