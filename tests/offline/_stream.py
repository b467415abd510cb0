"""Reading a simulated cluster's event stream in tests."""

from __future__ import annotations

from nomadlab.client import NomadClient
from nomadlab.streams import Event, EventStreamDecoder


def live_events(client: NomadClient, latest: int) -> list[Event]:
    """Every event the stream holds up to index ``latest``, read batch by batch."""
    decoder = EventStreamDecoder()
    out: list[Event] = []
    with client.open_stream("/v1/event/stream", params={"topic": "*", "index": "0"}, namespace="*") as response:
        for chunk in response.iter_bytes():
            for batch in decoder.feed(chunk):
                out += batch.events
                if batch.index >= latest:
                    return out
    return out
