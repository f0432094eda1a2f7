"""Prometheus metrics of live monitoring, per stream."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["LiveMetrics", "STATES", "stream_state"]

STATES = ("connecting", "live", "reconnecting", "ended", "failed")


def stream_state(snap) -> str:
    """connecting (never delivered yet), live, reconnecting, ended, or failed (ended having
    delivered nothing: a dead URL)."""
    if snap.ended:
        return "ended" if snap.delivered_any or snap.ended_reason == "stopped" else "failed"
    return "live" if snap.connected else ("reconnecting" if snap.delivered_any else "connecting")

DELAY_BUCKETS = (1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60)  # seconds; the target is p95 < 10 s


class LiveMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.ingest_lag = Gauge("liveguard_ingest_lag_seconds", "Wall clock minus stream time", ["stream"], registry=r)
        self.pending = Gauge("liveguard_pending_windows", "Windows waiting for ASR", ["stream"], registry=r)
        self.connected = Gauge("liveguard_stream_connected", "1 while the source delivers", ["stream"], registry=r)
        self.dropped = Gauge("liveguard_dropped_windows", "Windows dropped because ASR fell behind", ["stream"],
                             registry=r)
        self.reconnects = Gauge("liveguard_reconnects", "Reconnections after a drop", ["stream"], registry=r)
        self.stream_time = Gauge("liveguard_stream_time_seconds", "Stream time of the newest audio", ["stream"],
                                 registry=r)
        self.state = Gauge("liveguard_stream_state", "1 for the stream's current state, 0 for the others",
                           ["stream", "state"], registry=r)
        self.gap_seconds = Gauge("liveguard_gap_seconds", "Seconds of stream time lost to drops and restarts",
                                 ["stream"], registry=r)
        self.queue_wait = Histogram("liveguard_asr_queue_wait_seconds", "Window ready to transcribed", ["stream"],
                                    buckets=DELAY_BUCKETS, registry=r)
        self.delay = Histogram("liveguard_speech_to_finding_seconds", "End of the claim's speech to its finding",
                               ["stream"], buckets=DELAY_BUCKETS, registry=r)
        self.findings = Counter("liveguard_findings", "Findings", ["stream", "label"], registry=r)
        self.asr_restarts = Counter("liveguard_asr_worker_restarts", "ASR workers that died and were restarted",
                                    registry=r)

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        start_http_server(port, addr=addr, registry=self.registry)

    def update_stream(self, snap) -> None:
        s = snap.stream_id
        self.ingest_lag.labels(s).set(snap.ingest_lag_s)
        self.pending.labels(s).set(snap.pending)
        self.connected.labels(s).set(1 if snap.connected else 0)
        self.dropped.labels(s).set(snap.dropped)
        self.reconnects.labels(s).set(snap.reconnects)
        self.stream_time.labels(s).set(snap.stream_t)
        self.gap_seconds.labels(s).set(snap.gap_seconds)
        current = stream_state(snap)
        for state in STATES:
            self.state.labels(s, state).set(1 if state == current else 0)
