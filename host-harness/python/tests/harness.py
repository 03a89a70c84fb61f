"""Test helpers: the project's Trakt emulator (``cw-host emulator``) as a child process, a
generated catalogue and seed, and CrossWatch-shaped config files. Used by the pytest suite
and by bench_history.py. Builds nothing: the component and cw-host come from the paths in
``TRAKT_ADAPTER_WASM`` and ``CW_HOST_BIN`` (defaults: the cargo target directory)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[3]
DEFAULT_WASM = REPO / "target" / "wasm" / "wasm32-wasip2" / "plugin-release" / "trakt_adapter.wasm"
DEFAULT_CW_HOST = REPO / "target" / "debug" / "cw-host"


def wasm_path() -> Path:
    return Path(os.environ.get("TRAKT_ADAPTER_WASM") or DEFAULT_WASM)


def cw_host_path() -> Path:
    return Path(os.environ.get("CW_HOST_BIN") or DEFAULT_CW_HOST)


class EmulatorError(RuntimeError):
    pass


class Emulator:
    """``cw-host emulator --port 0 [--seed FILE]`` on a free loopback port, until stop()."""

    def __init__(self, seed: Optional[dict] = None, workdir: Optional[Path] = None, binary: Optional[Path] = None):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="cw-emu-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [str(binary or cw_host_path()), "emulator", "--port", "0"]
        if seed is not None:
            seed_file = self.workdir / f"seed-{id(self)}.json"
            seed_file.write_text(json.dumps(seed))
            args += ["--seed", str(seed_file)]
        self._stderr_path = self.workdir / f"emulator-{id(self)}.err"
        self._stderr = open(self._stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL)
        info = self._read_banner(timeout=60)
        self.url: str = info["url"].rstrip("/")
        self.trakt: Dict[str, Any] = info["config"]["trakt"]
        # Keep draining stdout so the emulator never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _read_banner(self, timeout: float) -> dict:
        text = ""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            text += line.decode("utf-8", "replace")
            try:
                return json.loads(text)
            except ValueError:
                continue
        self.stop()
        err = self._stderr_path.read_text(errors="replace")
        raise EmulatorError(f"the emulator did not start: {err.strip() or text.strip() or 'no output'}")

    def _drain(self) -> None:
        try:
            assert self.proc.stdout is not None
            for _ in self.proc.stdout:
                pass
        except Exception:
            pass

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
        return json.loads(text) if text.strip() else None

    def state(self) -> dict:
        return self._call("GET", "/_emulator/state")

    def requests(self) -> List[dict]:
        return self._call("GET", "/_emulator/requests")

    def requests_to(self, method: str, path: str) -> List[dict]:
        return [r for r in self.requests() if r["method"] == method and r["path"] == path]

    def clear_requests(self) -> None:
        self._call("DELETE", "/_emulator/requests")

    def add_fault(self, fault: dict) -> None:
        self._call("POST", "/_emulator/faults", fault)

    def clear_faults(self) -> None:
        self._call("DELETE", "/_emulator/faults")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            self._stderr.close()
        except Exception:
            pass


# --------------------------------------------------------------------------------------------
# catalogue and seeds


def trakt_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def catalogue(movies: int, shows: int, seasons: int = 2, episodes: int = 5) -> dict:
    """``movies`` movies (trakt 1..n, tmdb 100000+i, imdb tt1000000+i) and ``shows`` shows
    with ``seasons`` x ``episodes`` episodes (unique trakt/tvdb/tmdb ids per type)."""
    out_movies = [
        {
            "title": f"Movie {i}",
            "year": 1950 + i % 70,
            "ids": {"trakt": i, "tmdb": 100000 + i, "imdb": f"tt{1000000 + i}"},
        }
        for i in range(1, movies + 1)
    ]
    out_shows = []
    season_id = 0
    episode_id = 0
    for j in range(1, shows + 1):
        ss = []
        for s in range(1, seasons + 1):
            season_id += 1
            eps = []
            for e in range(1, episodes + 1):
                episode_id += 1
                eps.append(
                    {
                        "number": e,
                        "title": f"Show {j} S{s}E{e}",
                        "ids": {"trakt": episode_id, "tvdb": 500000 + episode_id, "tmdb": 700000 + episode_id},
                    }
                )
            ss.append({"number": s, "ids": {"trakt": season_id, "tvdb": 300000 + season_id}, "episodes": eps})
        out_shows.append(
            {
                "title": f"Show {j}",
                "year": 2000 + j % 25,
                "ids": {"trakt": j, "tvdb": 80000 + j, "tmdb": 1000 + j, "imdb": f"tt{2000000 + j}"},
                "seasons": ss,
            }
        )
    return {"movies": out_movies, "shows": out_shows}


def episodes_of(cat: dict) -> List[dict]:
    """Every episode with its show: [{show, season, number, trakt}]."""
    out = []
    for show in cat["shows"]:
        for season in show["seasons"]:
            for ep in season["episodes"]:
                out.append({"show": show, "season": season["number"], "number": ep["number"], "trakt": ep["ids"]["trakt"]})
    return out


def history_plays(cat: dict, count: int, start: int = 1_600_000_000, step_minutes: int = 7) -> List[dict]:
    """``count`` plays at distinct minutes, alternating over the catalogue's movies and
    episodes (several plays of the same item at different times)."""
    movies = [m["ids"]["trakt"] for m in cat["movies"]]
    eps = [e["trakt"] for e in episodes_of(cat)]
    plays = []
    for i in range(count):
        if eps and (i % 2 == 1 or not movies):
            kind, trakt = "episode", eps[(i // 2) % len(eps)]
        else:
            kind, trakt = "movie", movies[(i // 2) % len(movies)]
        plays.append({"id": 9_000_000 + i, "type": kind, "trakt": trakt, "watched_at": trakt_time(start + i * step_minutes * 60)})
    return plays


def seed(
    cat: dict,
    watchlist: Sequence[dict] = (),
    ratings: Sequence[dict] = (),
    history: Sequence[dict] = (),
    auth: Optional[dict] = None,
) -> dict:
    s: Dict[str, Any] = {"catalog": cat, "watchlist": list(watchlist)}
    if ratings:
        s["ratings"] = list(ratings)
    if history:
        s["history"] = list(history)
    if auth:
        s["auth"] = dict(auth)
    s.setdefault("user", {"username": "alice", "vip": True})
    return s


def start_emulator(seed_obj: dict, workdir: Optional[Path] = None) -> tuple:
    """Start the emulator with ``seed_obj``; when this emulator does not know a data set yet
    (ratings, history), start it without that key. Returns (emulator, dropped keys)."""
    dropped: List[str] = []
    current = dict(seed_obj)
    while True:
        try:
            return Emulator(current, workdir), dropped
        except EmulatorError as e:
            text = str(e)
            culprit = next((k for k in ("history", "ratings", "collection") if k in current and k in text), None)
            if culprit is None:
                culprit = next((k for k in ("history", "ratings", "collection") if k in current), None)
                if culprit is None:
                    raise
            dropped.append(culprit)
            current.pop(culprit)


def write_config(base: Path, emu: Emulator, extra_trakt: Optional[dict] = None, **top: Any) -> dict:
    """A CrossWatch-shaped config.json in ``base`` pointing at ``emu``; returns the mapping as
    CrossWatch would pass it (read back from the file)."""
    trakt = dict(emu.trakt)
    trakt.update({"timeout": 10, "max_retries": 3, "rate_limit": {"enabled": False}})
    trakt.update(extra_trakt or {})
    cfg: Dict[str, Any] = {
        "version": 1,
        "plex": {"server_url": "http://plex.local:32400", "account_token": "plex-secret"},
        "trakt": trakt,
        "sync": {"enable_add": True, "enable_remove": True},
    }
    cfg.update(top)
    base.mkdir(parents=True, exist_ok=True)
    (base / "config.json").write_text(json.dumps(cfg, indent=2))
    return json.loads((base / "config.json").read_text())
