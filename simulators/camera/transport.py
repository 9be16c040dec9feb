"""Where simulated frames go: the same transports a real line camera offers.

- :class:`FrameQueue`: in-process hand-over (fastest; the edge's ``QueueSource`` reads it).
  Bounded; when the reader falls behind the oldest frame is dropped, as a camera's buffer
  does.
- :class:`FolderWriter`: ``frame-000001.png`` plus ``frame-000001.json`` (ground truth) per
  frame, written atomically (temporary name, then rename) so a folder watcher never sees a
  half-written file.
- :class:`MjpegServer`: an MJPEG-over-HTTP stream on 127.0.0.1 (``/stream.mjpg``, latest
  frame at ``/frame.jpg``), which OpenCV's ``VideoCapture`` opens by URL like an IP camera.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

from simulators.camera.camera import CameraFrame

BOUNDARY = "serialtrace-frame"


class FrameQueue(queue.Queue[CameraFrame]):
    """A bounded frame queue that drops the oldest frame when full; ``dropped`` counts them."""

    def __init__(self, maxsize: int = 8) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize: expected 1 or more frames, got {maxsize!r}")
        super().__init__(maxsize)
        self.dropped = 0

    def __call__(self, frame: CameraFrame) -> None:
        while True:
            try:
                self.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass


class FolderWriter:
    """Writes each frame as PNG (lossless) with a JSON sidecar of its ground truth."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, frame: CameraFrame) -> None:
        stem = f"frame-{frame.index:06d}"
        truth = {
            "index": frame.index,
            "timestamp": frame.timestamp,
            "label_index": frame.label_index,
            "data": frame.data,
            "faults": list(frame.faults),
            "effects": frame.effects,
        }
        _write_atomically(self.folder / f"{stem}.json", json.dumps(truth).encode("utf-8"))
        ok, png = cv2.imencode(".png", frame.image)
        if not ok:
            raise OSError(f"frame {frame.index}: PNG encoding failed")
        _write_atomically(self.folder / f"{stem}.png", png.tobytes())


def _write_atomically(path: Path, payload: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)


class MjpegServer:
    """Serves frames as an MJPEG stream on ``http://127.0.0.1:<port>/stream.mjpg``.

    ``port=0`` picks a free port (see :attr:`url`). Every client gets the newest frame
    when it comes; a slow client skips frames rather than holding the camera up.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, jpeg_quality: int = 95) -> None:
        if not 1 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality: expected 1 to 100, got {jpeg_quality!r}")
        self.jpeg_quality = jpeg_quality
        self._latest: tuple[int, bytes] | None = None
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="mjpeg-server", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/stream.mjpg"

    def start(self) -> MjpegServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        with self._changed:
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __call__(self, frame: CameraFrame) -> None:
        ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise OSError(f"frame {frame.index}: JPEG encoding failed")
        with self._changed:
            self._latest = (frame.index, jpeg.tobytes())
            self._changed.notify_all()

    def _next_after(self, seen: int | None, timeout: float) -> tuple[int, bytes] | None:
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    self._closed.is_set() or (self._latest is not None and self._latest[0] != seen)
                ),
                timeout=timeout,
            )
            if self._closed.is_set():
                return None
            return self._latest

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/stream.mjpg":
                    self._stream()
                elif self.path == "/frame.jpg":
                    latest = server._latest
                    if latest is None:
                        self.send_error(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet")
                        return
                    self.send_response(HTTPStatus.OK)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(latest[1])))
                    self.end_headers()
                    self.wfile.write(latest[1])
                else:
                    self.send_error(HTTPStatus.NOT_FOUND, "try /stream.mjpg or /frame.jpg")

            def _stream(self) -> None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                seen: int | None = None
                while not server._closed.is_set():
                    latest = server._next_after(seen, timeout=1.0)
                    if latest is None or latest[0] == seen:
                        continue
                    seen, jpeg = latest
                    try:
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpeg)}\r\n\r\n".encode("ascii")
                            + jpeg
                            + b"\r\n"
                        )
                        self.wfile.flush()
                    except OSError:  # the client went away
                        return

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: a camera does not log every request."""

        return Handler
