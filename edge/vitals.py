"""The vitals adapter: Bluetooth health devices' measurements become protocol vitals.

A blood pressure monitor, glucose meter, scale or pulse oximeter with the SIG's standard
profile (see :mod:`edge.ble_health`) connects to the home box after each measurement and
indicates it. The radio is behind :class:`HealthRadio`, so the adapter is the same with
bleak (:class:`BleakRadio`, the ``ble`` extra, imported only when it starts) and with a
test's fake radio. Each value goes through :mod:`edge.ble_vitals` and then into the agent's
outbox (:meth:`edge.agent.Agent.vitals`), which keeps it until the broker has it.

The adapter runs beside the device kind's own adapter (``[vitals]`` in any agent's config:
the Zigbee gateway or the speaker's box has the Bluetooth radio), or ``alone`` on a box that
only reads health devices. Either way it never reports the resident's activity or the
device's presence: a monitor used twice a day says nothing by its silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.adapter import (
    Adapter,
    AdapterBase,
    AgentPort,
    FeedError,
    FeedResult,
    HeartbeatExtras,
)
from edge.ble_gatt import DecodeError
from edge.ble_health import (
    GLUCOSE_MEASUREMENT,
    RECORD_ACCESS_CONTROL_POINT,
    SERVICES,
    GlucoseMeasurement,
    PlxContinuous,
    Profile,
    decode,
)
from edge.ble_vitals import Context, readings
from protocol.models import CheckinCommand
from protocol.vocab import KOREA_TZ

log = structlog.get_logger(__name__)


class HealthDevice(BaseModel):
    """One Bluetooth health device of the resident's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    address: str = Field(min_length=1, description="AA:BB:CC:DD:EE:FF (a UUID on macOS)")
    profile: Profile
    user_id: int | None = Field(
        default=None, ge=0, le=254, description="The resident's user on a multi-user monitor"
    )
    pair: bool = Field(default=True, description="Bond on connect (glucose meters require it)")


class VitalsConfig(BaseModel):
    """``[vitals]``: Bluetooth health devices read at this box."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    devices: list[HealthDevice] = Field(min_length=1)
    alone: bool = Field(default=False, description="true: this box runs no other adapter")
    device_tz: str = Field(default=KOREA_TZ, description="The zone the devices' clocks show")
    glucose_hi_mg_dl: float = Field(default=600.0, gt=0, le=2000, description="A meter's HI")
    continuous_every_s: int = Field(
        default=300, ge=1, le=86_400, description="At most one continuous oximetry reading"
    )
    reconnect_s: float = Field(default=10.0, gt=0, le=3600)

    @field_validator("device_tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"unknown time zone {value!r}"
            raise ValueError(msg) from None
        return value


class RadioSink(Protocol):
    """What the radio hands values to (the adapter)."""

    def measurement(self, device: str, characteristic: str, data: bytes) -> None:
        """A value indicated or notified by ``device`` on ``characteristic`` (its UUID)."""

    def glucose_from(self, device: str) -> int | None:
        """The sequence number from which a glucose meter's records are wanted (None: all)."""


class HealthRadio(Protocol):
    """The hardware boundary: subscribes to the configured devices' measurements."""

    def start(self, devices: Sequence[HealthDevice], sink: RadioSink) -> None: ...

    def stop(self) -> None: ...


class VitalsAdapter(AdapterBase):
    """Health devices' readings to the outbox, beside an optional inner adapter."""

    def __init__(
        self,
        config: VitalsConfig,
        *,
        radio: HealthRadio | None = None,
        inner: Adapter | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.inner = inner
        self.kind = inner.kind if inner is not None else "vitals"
        self.radio: HealthRadio = radio or BleakRadio(reconnect_s=config.reconnect_s)
        self.tz = ZoneInfo(config.device_tz)
        self._devices = {d.name: d for d in config.devices}
        self._last_continuous: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def start(self, agent: AgentPort) -> None:
        super().start(agent)
        if self.inner is not None:
            self.inner.start(agent)
        self.radio.start(self.config.devices, self)

    def stop(self) -> None:
        self.radio.stop()
        if self.inner is not None:
            self.inner.stop()

    # -- from the radio (its thread) ----------------------------------------------------

    def measurement(self, device: str, characteristic: str, data: bytes) -> None:
        health = self._devices.get(device)
        if health is None:
            log.warning("measurement from an unconfigured health device", device=device)
            return
        received = self.agent.now()
        try:
            decoded = decode(characteristic, data)
        except (DecodeError, ValueError) as exc:
            log.warning("health measurement undecodable", device=device, error=str(exc))
            return
        outcome = readings(
            decoded,
            Context(
                device=device,
                received_at=received,
                tz=self.tz,
                user_id=health.user_id,
                glucose_hi_mg_dl=self.config.glucose_hi_mg_dl,
            ),
        )
        if isinstance(decoded, GlucoseMeasurement):
            self._seen_record(device, decoded.sequence)
        if outcome.skipped:
            log.info("health measurement not taken", device=device, why=outcome.skipped)
            return
        for item in outcome.unreadable:
            log.warning("health value unreadable", device=device, value=item.what, why=item.why)
        if isinstance(decoded, PlxContinuous) and not self._continuous_due(device, received):
            return
        for reading in outcome.readings:
            event_id = self.agent.vitals(reading.kind, reading.value, reading.at, ref=reading.ref)
            # The value itself stays out of the log: it is the resident's health.
            log.info(
                "vital reading queued" if event_id else "vital reading already sent",
                device=device,
                kind=reading.kind,
                event_id=event_id,
                clock=outcome.clock,
                status=outcome.notes or None,
            )

    def glucose_from(self, device: str) -> int | None:
        last = self.agent.get_state(f"vitals.glucose_seq.{device}")
        return None if last is None else (int(last) + 1) % 0x10000

    def _seen_record(self, device: str, sequence: int) -> None:
        with self._lock:
            key = f"vitals.glucose_seq.{device}"
            last = self.agent.get_state(key)
            if last is None or sequence > int(last):
                self.agent.put_state(key, str(sequence))

    def _continuous_due(self, device: str, at: datetime) -> bool:
        with self._lock:
            last = self._last_continuous.get(device)
            if last is not None and at < last + timedelta(seconds=self.config.continuous_every_s):
                return False
            self._last_continuous[device] = at
            return True

    # -- the rest of the adapter: the inner one's ----------------------------------------

    def handle_feed(self, event: Mapping[str, Any], at: datetime, ref: str | None) -> FeedResult:
        if self.inner is not None:
            return self.inner.handle_feed(event, at, ref)
        msg = "a vitals box takes its readings over Bluetooth; the feed accepts none"
        raise FeedError(msg)

    def on_checkin(self, command: CheckinCommand) -> None:
        if self.inner is not None:
            self.inner.on_checkin(command)
        else:
            log.info("check-in ignored: health devices cannot speak", request_id=command.id)

    def tick(self, now: datetime) -> datetime | None:
        return self.inner.tick(now) if self.inner is not None else None

    def battery_pct(self) -> int | None:
        return self.inner.battery_pct() if self.inner is not None else None

    def heartbeat_extras(self) -> HeartbeatExtras:
        # A sensor gateway's sensing is its own; the health devices add nothing to it.
        return self.inner.heartbeat_extras() if self.inner is not None else HeartbeatExtras()


class BleakRadio:
    """:class:`HealthRadio` over bleak: one scanner, a connection per advertising device.

    Health devices advertise after a measurement and stay connected for seconds, so the
    scanner runs all the time and each configured address seen is connected to (bonding
    if ``pair``), subscribed to its profile's measurement characteristics and, for a glucose
    meter, asked for its records since the last one taken (Record Access Control Point:
    "report stored records", "greater than or equal to", by sequence number).
    """

    def __init__(self, *, reconnect_s: float = 10.0) -> None:
        self.reconnect_s = reconnect_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def start(self, devices: Sequence[HealthDevice], sink: RadioSink) -> None:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main(devices, sink)), daemon=True, name="anbu-ble"
        )
        self._thread.start()

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    async def _main(self, devices: Sequence[HealthDevice], sink: RadioSink) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            from bleak import BleakScanner
        except ImportError:
            log.error("bleak is not installed: pip install 'anbu[ble]'")
            return
        wanted = {d.address.upper(): d for d in devices}
        busy: set[str] = set()
        tasks: set[asyncio.Task[None]] = set()

        def seen(found: Any, _advertisement: Any) -> None:
            device = wanted.get(str(found.address).upper())
            if device is None or device.name in busy:
                return
            busy.add(device.name)
            task = asyncio.ensure_future(self._session(found, device, sink))
            tasks.add(task)
            task.add_done_callback(lambda t: _forget(t, tasks, busy, device.name))

        while not self._stopping.is_set():
            try:
                async with BleakScanner(detection_callback=seen):
                    await self._stopping.wait()
            except Exception as exc:  # no adapter, BlueZ restarting: try again
                log.error("Bluetooth scanner failed", error=str(exc))
                await _wait(self._stopping, self.reconnect_s)
        for task in tasks:
            task.cancel()

    async def _session(self, found: Any, device: HealthDevice, sink: RadioSink) -> None:
        from bleak import BleakClient

        stopping = self._stopping or asyncio.Event()
        gone = asyncio.Event()
        _, characteristics = SERVICES[device.profile]
        try:
            async with BleakClient(
                found, disconnected_callback=lambda _c: gone.set(), pair=device.pair
            ) as client:
                for uuid in characteristics:
                    if client.services.get_characteristic(uuid) is None:
                        continue

                    def value(_char: Any, data: bytearray, uuid: str = uuid) -> None:
                        sink.measurement(device.name, uuid, bytes(data))

                    await client.start_notify(uuid, value)
                if GLUCOSE_MEASUREMENT in characteristics:
                    await _ask_glucose_records(client, device, sink.glucose_from(device.name))
                log.info("health device connected", device=device.name)
                stop = asyncio.ensure_future(stopping.wait())
                disconnected = asyncio.ensure_future(gone.wait())
                await asyncio.wait({stop, disconnected}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                disconnected.cancel()
        except Exception as exc:  # out of range, pairing refused: next advert
            log.warning("health device session failed", device=device.name, error=str(exc))
        await _wait(stopping, self.reconnect_s)


async def _ask_glucose_records(client: Any, device: HealthDevice, start: int | None) -> None:
    def answer(_char: Any, data: bytearray) -> None:
        log.info("glucose meter answered", device=device.name, racp=bytes(data).hex())

    await client.start_notify(RECORD_ACCESS_CONTROL_POINT, answer)
    # Op code 0x01 "report stored records": operator 0x01 all records, or 0x03 "greater
    # than or equal to" with filter type 0x01 (sequence number) and the number.
    request = (
        bytes([0x01, 0x01])
        if start is None
        else bytes([0x01, 0x03, 0x01]) + start.to_bytes(2, "little")
    )
    await client.write_gatt_char(RECORD_ACCESS_CONTROL_POINT, request, response=True)


def _forget(
    task: asyncio.Task[None], tasks: set[asyncio.Task[None]], busy: set[str], name: str
) -> None:
    tasks.discard(task)
    busy.discard(name)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)
