"""Being a wyoming-satellite's server: its audio to speech-to-text, check-in prompts to its speaker.

A satellite (wyoming-satellite on the speaker box: microphone, speaker, local wake word)
accepts one server, normally Home Assistant. Without Home Assistant the agent is that server
and runs the pipeline itself, as Home Assistant would:

1. ``run-satellite`` when connected; the satellite then waits for its wake word.
2. After the wake word it sends ``run-pipeline`` and streams ``audio-chunk`` events.
3. The agent forwards the audio to the speech-to-text server (``transcribe``, ``audio-start``,
   chunks, ``audio-stop``), cutting the command at the resident's pause
   (:mod:`edge.voice_segment`), and answers the satellite with the ``transcript``, which sends
   it back to wake-word detection.
4. Speech for the resident (a check-in prompt) goes to the satellite as ``audio-start``,
   chunks and ``audio-stop``; it plays them and says ``played``.

``run-pipeline`` starting at ``asr`` means the satellite heard its wake word, so the command
was addressed to the speaker. Starting at ``wake`` (a satellite run with ``--vad`` and no wake
service) means only that somebody spoke; the adapter decides whether that counts
(:meth:`edge.speaker.SpeakerAdapter.heard`). Such a satellite also hears the prompt it is
playing, and a prompt that says "괜찮아" would answer itself, so speech it detects while a
prompt plays (and :data:`ECHO_S` after) is refused; a wake word is never in a prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.snd import Played

from edge.voice_segment import Segmenter

log = structlog.get_logger(__name__)

Heard = Callable[[str, bool], object]  # (transcript, addressed to the speaker)

CONNECT_S = 5.0
STT_WAIT_S = 30.0  # faster-whisper "small" on a small ARM box takes seconds per command
_RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)
ECHO_S = 0.5  # after the prompt's audio, for the room and the sound card's buffer
# Connection trouble, a cut TCP stream, or a server that stopped answering in time.
NET_ERRORS = (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError)


@dataclass
class _Command:
    """One spoken command on its way to speech-to-text."""

    addressed: bool
    segmenter: Segmenter = field(default_factory=Segmenter)
    stt: AsyncClient | None = None
    done: bool = False


class SatelliteLink:
    """The agent's connection to one satellite, kept up (reconnecting) until cancelled."""

    def __init__(self, satellite_uri: str, stt_uri: str, language: str, heard: Heard) -> None:
        self.satellite_uri = satellite_uri
        self.stt_uri = stt_uri
        self.language = language
        self.heard = heard
        self._client: AsyncClient | None = None
        self._command: _Command | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._prompt_ends = 0.0  # time.monotonic() when the prompt being played is over

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def send(self, event: Event) -> bool:
        """Write one event to the satellite; False if there is no satellite to write to."""
        client = self._client
        if client is None:
            return False
        try:
            await client.write_event(event)
        except NET_ERRORS:
            return False
        return True

    async def play(self, event: Event) -> bool:
        """Prompt audio (start, chunks, stop) to the satellite's speaker."""
        if AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            # The audio comes faster than it plays: it ends one chunk length later each time.
            self._prompt_ends = max(self._prompt_ends, time.monotonic()) + chunk.seconds
        return await self.send(event)

    async def run(self) -> None:
        failures = 0
        while True:
            client = AsyncClient.from_uri(self.satellite_uri, connect_timeout=CONNECT_S)
            try:
                await client.connect()
            except NET_ERRORS as exc:
                delay = _RETRY_S[min(failures, len(_RETRY_S) - 1)]
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    log.warning("satellite unreachable", error=type(exc).__name__, retry_s=delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            log.info("serving the satellite")
            try:
                await self._serve(client)
            except NET_ERRORS as exc:
                log.warning("satellite connection lost", error=type(exc).__name__)
            finally:
                self._client = None
                await self._drop_command()
                with contextlib.suppress(*NET_ERRORS):
                    await client.disconnect()
            await asyncio.sleep(_RETRY_S[0])

    async def _serve(self, client: AsyncClient) -> None:
        await client.write_event(RunSatellite().event())
        self._client = client
        while (event := await client.read_event()) is not None:
            await self._on_event(event)
        log.warning("satellite closed the connection")

    async def _on_event(self, event: Event) -> None:
        if Ping.is_type(event.type):
            await self.send(Pong(text=Ping.from_event(event).text).event())
        elif RunPipeline.is_type(event.type):
            await self._start_command(event)
        elif AudioChunk.is_type(event.type):
            await self._audio(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type):
            # A --vad satellite gives up on its own when no wake word followed the speech.
            await self._finish()
        elif Played.is_type(event.type):
            log.info("satellite played the prompt")
        elif Error.is_type(event.type):
            log.warning("satellite error", error=event.data.get("text"))

    async def _start_command(self, event: Event) -> None:
        try:
            stage = RunPipeline.from_event(event).start_stage
        except (KeyError, ValueError):
            log.warning("satellite sent an unreadable run-pipeline")
            return
        await self._drop_command()
        if stage is PipelineStage.WAKE and time.monotonic() < self._prompt_ends + ECHO_S:
            log.info("speech during the prompt ignored")
            await self.send(Error(text="speaking", code="speaking").event())
        elif stage in (PipelineStage.WAKE, PipelineStage.ASR):
            self._command = _Command(addressed=stage is PipelineStage.ASR)

    async def _audio(self, chunk: AudioChunk) -> None:
        command = self._command
        if command is None or command.done:
            return  # the satellite streams until it has our transcript
        try:
            if command.stt is None:
                command.stt = await self._open_stt(chunk)
            await command.stt.write_event(chunk.event())
        except NET_ERRORS as exc:
            log.error("speech-to-text unreachable", error=type(exc).__name__)
            await self._drop_command()
            await self.send(Error(text="speech-to-text failed", code="stt-failed").event())
            return
        if command.segmenter.feed(chunk.audio, chunk.rate, chunk.width, chunk.channels):
            await self._finish()

    async def _open_stt(self, first: AudioChunk) -> AsyncClient:
        stt = AsyncClient.from_uri(self.stt_uri, connect_timeout=CONNECT_S, read_timeout=STT_WAIT_S)
        await stt.connect()
        await stt.write_event(Transcribe(language=self.language).event())
        await stt.write_event(
            AudioStart(rate=first.rate, width=first.width, channels=first.channels).event()
        )
        return stt

    async def _finish(self) -> None:
        command = self._command
        if command is None or command.done:
            return
        command.done = True
        if command.stt is None:
            self._command = None
            await self.send(Error(text="no audio", code="stt-no-text-recognized").event())
            return
        # Waiting for the text must not stop us reading the satellite (pings, more audio).
        task = asyncio.create_task(self._transcribe(command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _transcribe(self, command: _Command) -> None:
        stt = command.stt
        assert stt is not None  # noqa: S101 - _finish only starts us with a connection
        text: str | None = None
        try:
            await stt.write_event(AudioStop().event())
            while (event := await stt.read_event()) is not None:
                if Transcript.is_type(event.type):
                    text = Transcript.from_event(event).text
                    break
                if Error.is_type(event.type):
                    log.error("speech-to-text error", error=event.data.get("text"))
                    break
        except NET_ERRORS as exc:
            log.error("speech-to-text failed", error=type(exc).__name__)
        finally:
            if self._command is command:
                self._command = None
            with contextlib.suppress(*NET_ERRORS):
                await stt.disconnect()
        if text is None:
            await self.send(Error(text="speech-to-text failed", code="stt-failed").event())
            return
        if text.strip():
            self.heard(text, command.addressed)  # first: it may be a call for help
        # The satellite goes back to its wake word (and plays its "done" sound) on this.
        await self.send(Transcript(text=text, language=self.language).event())

    async def _drop_command(self) -> None:
        command, self._command = self._command, None
        if command is not None and command.stt is not None and not command.done:
            with contextlib.suppress(*NET_ERRORS):
                await command.stt.disconnect()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._drop_command()
