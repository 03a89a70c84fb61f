"""Test helpers: the project's Trakt emulator (``cw-host emulator``) as a child process, a
generated catalogue and seed, and CrossWatch-shaped config files. Used by the pytest suite
and by bench_history.py. Builds nothing: the component and cw-host come from the paths in
``TRAKT_ADAPTER_WASM`` and ``CW_HOST_BIN`` (defaults: the cargo target directory)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[3]
DEFAULT_CW_HOST = REPO / "target" / "debug" / "cw-host"


def wasm_path() -> Path:
    env = os.environ.get("TRAKT_ADAPTER_WASM")
    return Path(env) if env else _cargo_artifact()


@functools.lru_cache(maxsize=1)
def _cargo_artifact() -> Path:
    """The component cargo built, as the artifacts crate reports it (building it if needed)."""
    try:
        out = subprocess.run(
            ["cargo", "run", "-q", "-p", "trakt-adapter-artifacts"],
            cwd=REPO, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL,
        )
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return REPO / "target" / "trakt_adapter.wasm-not-built"


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
        #: Every account's credentials by username (the banner's ``accounts``; filled from the
        #: seed when this emulator does not print them).
        self.accounts: Dict[str, Dict[str, Any]] = dict(info.get("accounts") or {})
        if seed is not None:
            for entry in [seed, *(seed.get("accounts") or [])]:
                name = (entry.get("user") or {}).get("username")
                if name and name not in self.accounts and entry.get("auth"):
                    self.accounts[name] = dict(entry["auth"], api_url=self.url, auth_url=self.url)
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

    def state(self, account: Optional[str] = None) -> dict:
        """The whole state (the primary account's library, the others under ``accounts``), or
        one account's own library."""
        if account is None:
            return self._call("GET", "/_emulator/state")
        return self._call("GET", "/_emulator/state?account=" + urllib.parse.quote(account))

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


# --------------------------------------------------------------------------------------------
# several accounts (CrossWatch instances)


def account(username: str, auth: dict, watchlist: Sequence[dict] = (), **lists: Any) -> dict:
    """One emulator account: a Library-shaped object with its own user, tokens and lists
    (the catalogue is the primary account's unless ``catalog`` is given)."""
    a: Dict[str, Any] = {"user": {"username": username, "vip": True}, "auth": dict(auth), "watchlist": list(watchlist)}
    a.update({k: list(v) if isinstance(v, (list, tuple)) else v for k, v in lists.items()})
    return a


def seed_accounts(primary: dict, *others: dict) -> dict:
    """A seed whose top-level library is the primary account and ``accounts`` the others."""
    out = dict(primary)
    out["accounts"] = [dict(o) for o in others]
    return out


def trakt_block_for(emu: Emulator, username: str, extra: Optional[dict] = None) -> dict:
    """The Trakt block CrossWatch would keep for ``username`` on ``emu``."""
    a = emu.accounts[username]
    block = {k: a[k] for k in ("client_id", "client_secret", "access_token", "refresh_token", "expires_at")}
    block.update({"api_url": emu.url, "auth_url": emu.url, "timeout": 10, "max_retries": 3, "rate_limit": {"enabled": False}})
    block.update(extra or {})
    return block


def deep_merge(base: dict, over: dict) -> dict:
    out = json.loads(json.dumps(base))
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = json.loads(json.dumps(v))
    return out


def instance_view(cfg: dict, instance: str) -> dict:
    """The config view CrossWatch hands a provider for one Trakt instance: the instance's block
    merged over the base block (without ``instances``); ``default`` is the base block."""
    view = json.loads(json.dumps(cfg))
    base = dict(view.get("trakt") or {})
    if instance == "default":
        view["trakt"] = base
        return view
    own = (base.get("instances") or {}).get(instance) or {}
    base.pop("instances", None)
    view["trakt"] = deep_merge(base, own)
    return view


def pair_env(monkeypatch: Any, key: Optional[str], src: str, dst: str, src_instance: str = "default", dst_instance: str = "default", feature: str = "watchlist", mode: str = "one-way") -> None:
    """The CW_PAIR_* environment CrossWatch's orchestrator sets around a pair's calls."""
    values = {
        "CW_PAIR_SRC": src.upper(),
        "CW_PAIR_DST": dst.upper(),
        "CW_PAIR_SRC_INSTANCE": src_instance,
        "CW_PAIR_DST_INSTANCE": dst_instance,
        "CW_PAIR_MODE": mode,
        "CW_PAIR_FEATURE": feature,
    }
    for name in ("CW_PAIR_KEY", "CW_PAIR_SCOPE", "CW_SYNC_PAIR", "CW_PAIR"):
        values[name] = key
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def health_env(monkeypatch: Any, instance: str) -> None:
    """The environment of CrossWatch's health run for one Trakt instance."""
    pair_env(monkeypatch, f"health:TRAKT#{instance}", "TRAKT", "TRAKT", instance, instance, "health", "health")


def clear_pair_env(monkeypatch: Any) -> None:
    for name in ("CW_PAIR_KEY", "CW_PAIR_SCOPE", "CW_SYNC_PAIR", "CW_PAIR", "CW_PAIR_SRC", "CW_PAIR_DST", "CW_PAIR_SRC_INSTANCE", "CW_PAIR_DST_INSTANCE", "CW_PAIR_MODE", "CW_PAIR_FEATURE"):
        monkeypatch.delenv(name, raising=False)
