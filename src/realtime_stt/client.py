"""Stream a WAV file to the ``/ws`` endpoint and print the transcript.

Usage::

    python -m realtime_stt.client FILE [--url ws://127.0.0.1:8000/ws] [--language sv]
                                       [--realtime] [--json]

Contract:

- ``FILE`` is a PCM WAV of any sample rate and channel count, 8, 16, 24 or 32 bits; it is mixed
  to mono and resampled to 16 kHz (soxr) before sending.
- The audio goes out as binary PCM16 frames of 100 ms, as fast as the socket takes them, or paced
  at real time with ``--realtime``; then ``{"type": "end"}``. ``language`` and ``sample_rate``
  are set on the URL's query string; other query parameters in ``--url`` (``token``) are kept.
- Output: each non-empty final as one line ``[start-end] text`` on stdout (seconds, two decimals,
  an en dash between); while stdout is a terminal the current partial is shown on one line that
  is rewritten in place. With ``--json`` every server message is printed as it came, one JSON
  object per line, and nothing else.
- Exit status: 0 when the server closed with 1000 after ``end`` and sent no error; 1 when it sent
  an ``error`` (``code: message`` on stderr), refused the handshake, or closed with another
  code; 2 when the file cannot be read or the server cannot be reached. Problems are reported
  as one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
import wave
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
import soxr
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.sync.client import ClientConnection, connect

RATE = 16_000
CHUNK = RATE // 10  # 100 ms of samples
DASH = "\N{EN DASH}"
EXIT_OK, EXIT_SERVER, EXIT_NO_START = 0, 1, 2


class ClientError(Exception):
    """A problem worth one line on stderr; ``status`` is the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def load_wav(path: Path) -> npt.NDArray[np.int16]:
    """The file's audio as 16 kHz mono PCM16."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise ClientError(f"cannot read {path}: {exc}", EXIT_NO_START) from None
    if width == 1:  # 8-bit WAV is unsigned
        audio = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        audio = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 3:  # little-endian 24-bit: widen to int32 by putting a zero byte below
        padded = np.zeros((len(raw) // 3, 4), np.uint8)
        padded[:, 1:] = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        audio = padded.view("<i4").ravel().astype(np.float32) / 2**31
    elif width == 4:
        audio = np.frombuffer(raw, "<i4").astype(np.float32) / 2**31
    else:
        raise ClientError(f"cannot read {path}: {8 * width}-bit samples", EXIT_NO_START)
    mono = audio.reshape(-1, channels).mean(axis=1)
    if rate != RATE:
        mono = soxr.resample(mono, rate, RATE)
    pcm: npt.NDArray[np.int16] = np.clip(np.round(mono * 32768), -32768, 32767).astype(np.int16)
    return pcm


def session_url(url: str, language: str) -> str:
    """``url`` with ``language`` and ``sample_rate`` set in its query string."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(language=language, sample_rate=str(RATE))
    return urlunsplit(parts._replace(query=urlencode(query)))


def send_audio(ws: ClientConnection, pcm: npt.NDArray[np.int16], realtime: bool) -> None:
    """Send ``pcm`` in 100 ms frames, then ``end``; stops quietly if the socket closes."""
    started = time.monotonic()
    try:
        for index, offset in enumerate(range(0, pcm.size, CHUNK)):
            if realtime:
                time.sleep(max(0.0, started + index * CHUNK / RATE - time.monotonic()))
            ws.send(pcm[offset : offset + CHUNK].astype("<i2").tobytes())
        ws.send(json.dumps({"type": "end"}))
    except ConnectionClosed:
        return


class Printer:
    """Shows partials on one rewritten terminal line and finals as lines."""

    def __init__(self, out: TextIO, raw_json: bool) -> None:
        self.out = out
        self.raw_json = raw_json
        self.live = out.isatty() and not raw_json
        self.partial_shown = False

    def show(self, text: str, message: dict[str, Any]) -> None:
        if self.raw_json:
            print(text, file=self.out, flush=True)
            return
        kind = message.get("type")
        if kind == "partial" and self.live:
            # Keep it to one terminal row (the tail), or \r could not rewrite it.
            live = str(message.get("text", ""))
            width = shutil.get_terminal_size().columns - 1
            if len(live) > width:
                live = "…" + live[-(width - 1) :]
            self.out.write("\r\x1b[K" + live)
            self.out.flush()
            self.partial_shown = True
        elif kind == "final":
            self.clear()
            text = str(message.get("text", "")).strip()
            if text:
                ts = message.get("ts", {})
                span = f"{ts.get('start_s', 0):.2f}{DASH}{ts.get('end_s', 0):.2f}"
                print(f"[{span}] {text}", file=self.out)
                self.out.flush()

    def clear(self) -> None:
        if self.partial_shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self.partial_shown = False


def run(file: Path, url: str, language: str, realtime: bool, raw_json: bool) -> int:
    """Stream ``file`` to ``url`` and print what comes back; returns the exit status."""
    pcm = load_wav(file)
    target = session_url(url, language)
    try:
        ws = connect(target, open_timeout=10, max_size=None)
    except InvalidURI as exc:
        raise ClientError(f"invalid URL {url}: {exc}", EXIT_NO_START) from None
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise ClientError(f"server refused the connection: HTTP {status}", EXIT_SERVER) from None
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise ClientError(f"cannot reach {url}: {exc}", EXIT_NO_START) from None

    printer = Printer(sys.stdout, raw_json)
    failed = False
    sender = threading.Thread(target=send_audio, args=(ws, pcm, realtime), daemon=True)
    with ws:
        sender.start()
        try:
            for frame in ws:
                text = frame if isinstance(frame, str) else frame.decode()
                message = json.loads(text)
                printer.show(text, message)
                if message.get("type") == "error":
                    printer.clear()
                    print(f"error: {message['code']}: {message['message']}", file=sys.stderr)
                    failed = True
        except ConnectionClosed:
            pass  # judged by the close code below
    sender.join(timeout=5)
    printer.clear()
    code, reason = ws.close_code, ws.close_reason
    if code != 1000:
        if not failed:
            how = f"with code {code}" if code is not None else "without a close frame"
            detail = f" ({reason})" if reason else ""
            print(f"error: the server closed the connection {how}{detail}", file=sys.stderr)
        return EXIT_SERVER
    return EXIT_SERVER if failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m realtime_stt.client", description="Stream a WAV file to /ws."
    )
    parser.add_argument("file", type=Path, help="WAV file (PCM, any rate and channel count)")
    parser.add_argument("--url", default="ws://127.0.0.1:8000/ws", help="the /ws endpoint")
    parser.add_argument("--language", default="sv", help="ISO 639-1 code (default: sv)")
    parser.add_argument("--realtime", action="store_true", help="pace the audio at real time")
    parser.add_argument("--json", action="store_true", help="print raw server messages")
    args = parser.parse_args(argv)
    try:
        return run(args.file, args.url, args.language, args.realtime, args.json)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
