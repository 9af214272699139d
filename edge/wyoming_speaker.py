"""The AI speaker's ears and voice on Home Assistant's open voice stack (the Wyoming protocol).

:class:`WyomingVoice` is what :class:`edge.speaker.SpeakerAdapter` listens and speaks
through when ``[speaker.wyoming]`` is configured (``edge/VOICE.md``). Transcripts come in
one or both of two ways:

* ``events``: a Wyoming server the satellite forwards its pipeline's events to
  (``wyoming-satellite --event-uri``). With Home Assistant running the pipeline, every
  ``transcript`` it sends the satellite reaches the agent here.
* ``satellite`` + ``stt``: no Home Assistant; the agent is the satellite's server and runs
  its speech-to-text (:mod:`edge.voice_satellite`).

Speech for the resident (check-in prompts) is asked of the Wyoming ``tts`` server with a
``synthesize`` event; its audio goes to the satellite when the agent serves one, or else to
``play_command``. All Wyoming work runs on one asyncio loop in a daemon thread; the adapter's
own lock serialises what it is called with from there. This module imports ``wyoming`` (the
``voice`` extra) at the top, so the speaker adapter imports it only when it is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from functools import partial

import structlog
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.event import Event
from wyoming.satellite import SatelliteConnected, SatelliteDisconnected
from wyoming.server import AsyncEventHandler, AsyncServer
from wyoming.tts import Synthesize, SynthesizeVoice

from edge.config import WyomingConfig
from edge.voice_satellite import CONNECT_S, NET_ERRORS, Heard, SatelliteLink

log = structlog.get_logger(__name__)

TTS_WAIT_S = 30.0  # per event: a long prompt on a small CPU
_START_S = 10.0


class WyomingVoice:
    """Listens for transcripts and speaks prompts over Wyoming; start, then stop once."""

    def __init__(self, config: WyomingConfig) -> None:
        self.config = config
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._heard: Heard | None = None
        self._server: AsyncServer | None = None
        self._satellite: SatelliteLink | None = None
        self._satellite_task: asyncio.Task[None] | None = None
        self._speaking: asyncio.Lock | None = None

    # -- the adapter's side (any thread) -------------------------------------------------

    @property
    def can_speak(self) -> bool:
        """Whether check-ins can be spoken: a TTS server is configured."""
        return self.config.tts is not None

    def start(self, heard: Heard) -> None:
        """Open the event server and the satellite link; ``heard`` gets every transcript.

        Raises OSError when the event server's address cannot be listened on.
        """
        self._heard = heard
        self._thread = threading.Thread(target=self._run, daemon=True, name="anbu-wyoming")
        self._thread.start()
        if not self._ready.wait(_START_S):
            msg = "the Wyoming voice did not start"
            raise RuntimeError(msg)
        if self._failed is not None:
            raise self._failed

    def stop(self) -> None:
        """Close connections and end the thread; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

    def say(self, text: str) -> Future[bool] | None:
        """Start saying ``text``; the future is True once the audio went to a player."""
        if not self.can_speak or self._loop is None:
            return None
        return asyncio.run_coroutine_threadsafe(self._say(text), self._loop)

    # -- the loop's side ----------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except OSError as exc:
            self._failed = exc
        self._ready.set()
        if self._failed is None:
            loop.run_forever()
        loop.run_until_complete(self._close())
        loop.close()

    async def _open(self) -> None:
        self._speaking = asyncio.Lock()
        config = self.config
        if config.events:
            self._server = AsyncServer.from_uri(config.events)
            await self._server.start(partial(_EventsHandler, self._hear))
            log.info("listening for satellite events", uri=config.events)
        if config.satellite and config.stt:
            self._satellite = SatelliteLink(
                config.satellite, config.stt, config.language, self._hear
            )
            self._satellite_task = asyncio.create_task(self._satellite.run())

    async def _close(self) -> None:
        if self._satellite_task is not None:
            self._satellite_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._satellite_task
        if self._satellite is not None:
            await self._satellite.close()
        if self._server is not None:
            await self._server.stop()

    def _hear(self, text: str, addressed: bool) -> None:
        heard = self._heard
        if heard is None:
            return
        try:
            heard(text, addressed)
        except Exception:
            # A failure to store one utterance must not silence the speaker for good.
            log.exception("transcript not taken")

    async def _say(self, text: str) -> bool:
        assert self._speaking is not None and self.config.tts  # noqa: S101 - set by _open
        async with self._speaking:  # one prompt at a time, never two voices at once
            tts = AsyncClient.from_uri(
                self.config.tts, connect_timeout=CONNECT_S, read_timeout=TTS_WAIT_S
            )
            try:
                await tts.connect()
                await tts.write_event(Synthesize(text=text, voice=self._voice()).event())
                played = await self._relay(tts)
            except NET_ERRORS as exc:
                log.error("text-to-speech failed", error=type(exc).__name__)
                return False
            finally:
                with contextlib.suppress(*NET_ERRORS):
                    await tts.disconnect()
        return played

    def _voice(self) -> SynthesizeVoice:
        if self.config.voice:
            return SynthesizeVoice(name=self.config.voice)
        return SynthesizeVoice(language=self.config.language)

    async def _relay(self, tts: AsyncClient) -> bool:
        """The TTS server's audio, start to stop, to the satellite or the local player."""
        satellite = self._satellite if self._satellite and self._satellite.connected else None
        player = _Player(self.config.play_command) if satellite is None else None
        ok = True
        try:
            while (event := await tts.read_event()) is not None:
                if not (AudioStart.is_type(event.type) or AudioChunk.is_type(event.type)):
                    if AudioStop.is_type(event.type):
                        break
                    continue
                if satellite is not None:
                    ok = await satellite.play(event) and ok
                elif player is not None:
                    ok = await player.feed(event) and ok
            else:
                log.error("text-to-speech server closed before the audio ended")
                return False
            if satellite is not None:
                ok = await satellite.send(AudioStop().event()) and ok
        finally:
            if player is not None:
                ok = await player.close() and ok
        return ok


class _EventsHandler(AsyncEventHandler):
    """One connection from a satellite's event forwarder: transcripts in, nothing out."""

    def __init__(
        self, heard: Heard, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(reader, writer)
        self.heard = heard

    async def handle_event(self, event: Event) -> bool:
        if Transcript.is_type(event.type):
            text = event.data.get("text")
            if isinstance(text, str) and text.strip():
                # The pipeline started from a wake word (Home Assistant's or the satellite's).
                self.heard(text, True)
        elif SatelliteConnected.is_type(event.type):
            log.info("satellite connected to its server")
        elif SatelliteDisconnected.is_type(event.type):
            log.warning("satellite lost its server")
        return True


class _Player:
    """Raw PCM to ``play_command`` (aplay by default), started at ``audio-start``."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)
        self._proc: asyncio.subprocess.Process | None = None

    async def feed(self, event: Event) -> bool:
        if AudioStart.is_type(event.type):
            if not self.command:
                log.warning("prompt not played: no satellite and no play_command")
                return False
            start = AudioStart.from_event(event)
            fields = {"{rate}": start.rate, "{width}": start.width, "{channels}": start.channels}
            argv = [_fill(arg, fields) for arg in self.command]
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL
                )
            except OSError as exc:
                log.error("prompt not played", command=argv[0], error=type(exc).__name__)
                return False
            return True
        proc = self._proc
        if proc is None or proc.stdin is None:
            return False
        try:
            proc.stdin.write(AudioChunk.from_event(event).audio)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    async def close(self) -> bool:
        proc, self._proc = self._proc, None
        if proc is None:
            return False
        if proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.close()
        try:
            code = await asyncio.wait_for(proc.wait(), TTS_WAIT_S)
        except TimeoutError:
            proc.kill()
            return False
        return code == 0


def _fill(arg: str, fields: dict[str, int]) -> str:
    for name, value in fields.items():
        arg = arg.replace(name, str(value))
    return arg
