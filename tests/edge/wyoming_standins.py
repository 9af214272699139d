"""Wyoming servers on loopback for the speaker tests, built on the wyoming package's own server.

The outside services of the voice stack stand in here: a speech-to-text server that answers
each command with the next text it was given, a text-to-speech server that records what it
was asked to say and answers with a little audio, and a satellite (microphone and speaker)
that streams a spoken command when told and records what it is sent. All run on one asyncio
loop in a thread, as the real ones would run in their own processes.
"""

from __future__ import annotations

import asyncio
import math
import queue
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.snd import Played
from wyoming.tts import Synthesize

from tests.conftest import free_port

RATE = 16_000
CHUNK = RATE // 10  # 100 ms of 16-bit mono


def tone(seconds: float, amplitude: int) -> list[bytes]:
    """Chunks of a 440 Hz tone (amplitude 0 = silence), 100 ms each."""
    chunks = []
    for n in range(round(seconds * 10)):
        samples = (
            round(amplitude * math.sin(2 * math.pi * 440 * (n * CHUNK + i) / RATE))
            for i in range(CHUNK)
        )
        chunks.append(struct.pack(f"<{CHUNK}h", *samples))
    return chunks


class Loop:
    """An asyncio loop in a daemon thread that the stand-ins' servers run on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.servers: list[AsyncTcpServer] = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def serve(self, factory: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> int:
        port = free_port()
        server = AsyncTcpServer("127.0.0.1", port)
        self.call(server.start(factory))
        self.servers.append(server)
        return port

    def close(self) -> None:
        for server in self.servers:
            self.call(server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class SttServer:
    """Speech-to-text: each command (transcribe ... audio-stop) gets the next queued text."""

    def __init__(self, loop: Loop) -> None:
        self.texts: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.emitted: list[tuple[str, float]] = []  # (text, time.monotonic() when written)
        self.languages: list[str | None] = []
        self.audio_bytes: list[int] = []
        self.port = loop.serve(lambda r, w: _SttHandler(self, r, w))
        self.uri = f"tcp://127.0.0.1:{self.port}"


class _SttHandler(AsyncEventHandler):
    def __init__(self, stt: SttServer, *args: Any) -> None:
        super().__init__(*args)
        self.stt = stt
        self.audio = 0

    async def handle_event(self, event: Event) -> bool:
        if Transcribe.is_type(event.type):
            self.stt.languages.append(Transcribe.from_event(event).language)
        elif AudioChunk.is_type(event.type):
            self.audio += len(event.payload or b"")
        elif AudioStop.is_type(event.type):
            self.stt.audio_bytes.append(self.audio)
            try:
                text = self.stt.texts.get_nowait()
            except queue.Empty:
                text = ""
            await self.write_event(Transcript(text=text).event())
            self.stt.emitted.append((text, time.monotonic()))
            return False
        return True


class TtsServer:
    """Text-to-speech: records each synthesize request and answers with silent audio."""

    def __init__(self, loop: Loop, rate: int = 22_050, seconds: float = 0.1) -> None:
        self.said: list[str] = []
        self.voices: list[dict[str, Any]] = []
        self.rate = rate
        self.seconds = seconds
        self.port = loop.serve(lambda r, w: _TtsHandler(self, r, w))
        self.uri = f"tcp://127.0.0.1:{self.port}"


class _TtsHandler(AsyncEventHandler):
    def __init__(self, tts: TtsServer, *args: Any) -> None:
        super().__init__(*args)
        self.tts = tts

    async def handle_event(self, event: Event) -> bool:
        if not Synthesize.is_type(event.type):
            return True
        self.tts.said.append(Synthesize.from_event(event).text)
        self.tts.voices.append(event.data.get("voice") or {})
        rate = self.tts.rate
        await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
        for _ in range(round(self.tts.seconds * 10)):
            audio = bytes(2 * rate // 10)
            await self.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=audio).event())
        await self.write_event(AudioStop().event())
        return True


class SatelliteServer:
    """A wyoming-satellite as its server sees it: streams a command when told to."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.running = threading.Event()  # its server sent run-satellite
        self.received: list[Event] = []  # everything its server sent
        self.played = 0  # audio-stop events: prompts played through its speaker
        self._writer: _SatelliteHandler | None = None
        self.port = loop.serve(self._connect)
        self.uri = f"tcp://127.0.0.1:{self.port}"

    def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        handler = _SatelliteHandler(self, reader, writer)
        self._writer = handler
        return handler

    def of_type(self, kind: str) -> list[Event]:
        return [e for e in list(self.received) if e.type == kind]

    def speak(self, stage: PipelineStage = PipelineStage.ASR, speech_s: float = 0.5) -> None:
        """Wake word (stage asr) or voice detector (stage wake), then a command and a pause."""
        handler = self._writer
        assert handler is not None, "no server connected"
        events = [RunPipeline(start_stage=stage, end_stage=PipelineStage.TTS).event()]
        for audio in tone(speech_s, 6000) + tone(1.5, 0):
            events.append(AudioChunk(rate=RATE, width=2, channels=1, audio=audio).event())

        async def send() -> None:
            for event in events:
                await handler.write_event(event)

        self.loop.call(send())

    def replies(self) -> int:
        """How many commands its server has answered (a transcript or an error)."""
        return len(self.of_type("transcript")) + len(self.of_type("error"))

    def speak_until_heard(self, stage: PipelineStage, timeout: float = 10.0) -> None:
        """Speak until the answer is a transcript (not "speaking": the prompt still plays)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before, heard = self.replies(), len(self.of_type("transcript"))
            self.speak(stage)
            while self.replies() == before and time.monotonic() < deadline:
                time.sleep(0.02)
            if len(self.of_type("transcript")) > heard:
                return
            time.sleep(0.1)  # pacing, like a resident who waits for the prompt to end
        msg = f"not heard within {timeout} s"
        raise AssertionError(msg)


class _SatelliteHandler(AsyncEventHandler):
    def __init__(self, satellite: SatelliteServer, *args: Any) -> None:
        super().__init__(*args)
        self.satellite = satellite

    async def handle_event(self, event: Event) -> bool:
        self.satellite.received.append(event)
        if RunSatellite.is_type(event.type):
            self.satellite.running.set()
        elif AudioStop.is_type(event.type):
            self.satellite.played += 1
            await self.write_event(Played().event())
        return True
