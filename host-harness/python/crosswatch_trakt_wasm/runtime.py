"""Loading the component and calling it with ``wasmtime`` (PyPI): the engine (fuel and epoch
interruption, one ticker thread), a cache of compiled components, the linker with our
imports, the store's limits, and the translation of traps into clear errors.
Mirrors host-harness/host/src/{engine.rs, runtime.rs}.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from wasmtime import Config, Engine, Store, WasiConfig, WasmtimeError
from wasmtime.component import Component, Linker, Record, Variant

from . import _compat, preflight
from .config import write_atomic
from .imports import (
    AuthFault,
    HttpBroker,
    HttpFault,
    LogSink,
    ProgressSink,
    SharedCredentials,
    StateFault,
    StateStore,
    TokenService,
)
from .policy import MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES, Limits, Policy

_compat.apply()

WIT_PACKAGE = "crosswatch:sync"
WIT_VERSION = "0.1.0"
EXPORT = f"{WIT_PACKAGE}/sync-adapter@{WIT_VERSION}"
EXPORT_FUNCS = ("manifest", "configure", "health", "build-index", "build-index-json", "add", "remove", "last-ledger")

#: Epoch ticks drive the wall-clock bound of each call.
EPOCH_TICK_SECS = 0.01
#: How long past a call's wall-clock limit the caller waits for the call's thread before it
#: abandons the instance (epoch interruption normally stops it within a tick).
WATCHDOG_GRACE_SECS = 1.0
#: Guest stdout/stderr kept per call; more is dropped.
GUEST_OUTPUT_CAPACITY = 1 << 20


class HostError(Exception):
    """A failure of the host or the sandbox, as opposed to an error the adapter reports.
    ``kind``: "limit" when a sandbox limit stopped the call, "trap" for another trap, "host"
    for failures to load or instantiate."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


# --------------------------------------------------------------------------------------------
# engine and component cache

_ENGINE: Optional[Engine] = None
_ENGINE_LOCK = threading.Lock()


def _ticker(ref: "weakref.ref[Engine]") -> None:
    while True:
        time.sleep(EPOCH_TICK_SECS)
        engine = ref()
        if engine is None:
            return
        engine.increment_epoch()
        del engine


def engine() -> Engine:
    """The process's engine: fuel metering and epoch interruption on, its ticker running."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            cfg = Config()
            cfg.consume_fuel = True
            cfg.epoch_interruption = True
            eng = Engine(cfg)
            threading.Thread(target=_ticker, args=(weakref.ref(eng),), name="cw-trakt-wasm-epoch", daemon=True).start()
            _ENGINE = eng
        return _ENGINE


def wasmtime_version() -> str:
    try:
        from importlib.metadata import version

        return version("wasmtime")
    except Exception:  # noqa: BLE001 - only used to name cache entries
        return "unknown"


def _cache_name(wasm: bytes) -> str:
    digest = hashlib.sha256(wasm).hexdigest()[:24]
    flavour = hashlib.sha256(f"wasmtime-py {wasmtime_version()} fuel epoch".encode()).hexdigest()[:12]
    return f"component-{digest}-{flavour}.cwasm"


def load_component(eng: Engine, path: Path, cache: Optional[Path]) -> Tuple[Component, bytes, str]:
    """Compile the component at ``path``, or load its compiled form from ``cache`` when an
    entry for these exact bytes exists. Cache problems never fail the load. Returns the
    component, its bytes and "compiled" or "cache"."""
    try:
        wasm = Path(path).read_bytes()
    except OSError as e:
        raise HostError("host", f"cannot read the component {path}: {e}") from None
    preflight.preflight(wasm)  # contract version and allowed world, before compiling (preflight.py)
    entry = cache / _cache_name(wasm) if cache is not None else None
    if entry is not None and entry.is_file():
        try:
            # The cache directory is private to this user and only holds what
            # Component.serialize wrote for this wasmtime version; wasmtime still checks the
            # header and refuses files from another version or configuration.
            return Component.deserialize(eng, entry.read_bytes()), wasm, "cache"
        except (WasmtimeError, OSError):
            pass
    try:
        component = Component(eng, wasm)
    except WasmtimeError as e:
        raise HostError("host", f"cannot load the component {path} (is it a crosswatch:sync component?): {e}") from None
    if entry is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            try:
                os.chmod(cache, 0o700)
            except OSError:
                pass
            write_atomic(entry, bytes(component.serialize()))
        except (OSError, WasmtimeError):
            pass
    return component, wasm, "compiled"


_COMPONENTS: Dict[Tuple[str, Optional[str]], Tuple[float, int, Component, str]] = {}
_COMPONENTS_LOCK = threading.Lock()


def component_for(path: Path, cache: Optional[Path]) -> Tuple[Component, str]:
    """The compiled component for ``path``, kept for the process (reloaded when the file
    changes)."""
    key = (str(Path(path).resolve()), str(cache) if cache else None)
    try:
        st = os.stat(path)
    except OSError as e:
        raise HostError("host", f"cannot read the component {path}: {e}") from None
    with _COMPONENTS_LOCK:
        hit = _COMPONENTS.get(key)
        if hit is not None and hit[0] == st.st_mtime and hit[1] == st.st_size:
            return hit[2], hit[3]
        component, _, source = load_component(engine(), Path(path), cache)
        _COMPONENTS[key] = (st.st_mtime, st.st_size, component, source)
        return component, source


def _size(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 20):.2f} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"
    return f"{n} bytes"


# --------------------------------------------------------------------------------------------
# bounded parsing of what the component returns


class _TooMany(Exception):
    pass


def parse_index_json(text: str, limits: Limits, feature: str = "index") -> Any:
    """The ``build-index-json`` text as Python values, refused with a ``limit`` HostError when
    it is longer than ``limits.index_json_max_bytes``, holds more values than
    ``index_json_max_values`` (separators counted before parsing) or more objects than
    ``index_json_max_objects`` (counted while parsing, which stops at the limit): json.loads
    of a huge text of tiny entries would otherwise build gigabytes of dicts in this process."""
    n = len(text)
    if n > limits.index_json_max_bytes:
        raise HostError(
            "limit",
            f"the component's {feature} index is {_size(n)} of JSON, more than this host parses "
            f"({_size(limits.index_json_max_bytes)})",
        )
    values = text.count(",") + 1
    if values > limits.index_json_max_values:
        raise HostError(
            "limit",
            f"the component's {feature} index holds more than {limits.index_json_max_values:,} JSON values "
            f"({values:,} separators), more than this host parses",
        )
    objects = 0
    cap = limits.index_json_max_objects

    def hook(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
        nonlocal objects
        objects += 1
        if objects > cap:
            raise _TooMany()
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=hook)
    except _TooMany:
        raise HostError(
            "limit", f"the component's {feature} index holds more than {cap:,} JSON objects, more than this host parses"
        ) from None
    except RecursionError:
        raise HostError("limit", f"the component's {feature} index is nested too deeply to parse") from None
    except ValueError as e:
        raise HostError("trap", f"the component's {feature} index is not valid JSON: {e}") from None


# --------------------------------------------------------------------------------------------
# host services and the instance


@dataclass
class HostServices:
    """Everything an instance needs from its host."""

    policy: Policy
    creds: SharedCredentials
    http: HttpBroker
    state: StateStore
    auth: TokenService
    log: LogSink
    progress: ProgressSink


def _state_error(f: StateFault) -> Variant:
    return Variant(f.kind, f.message)


#: Fuel charged for every import call, and per byte crossing it (arguments and results), so
#: time spent in the host counts against the call's CPU budget: under the default budget a
#: call can make about 500,000 import calls; a flood of cheap calls (progress.report) stops
#: within seconds instead of running to the wall-clock limit.
IMPORT_CALL_FUEL = 10_000_000
IMPORT_BYTE_FUEL = 1_000


def _weight(value: Any, depth: int = 0) -> int:
    """Bytes a WIT value carries, roughly (strings, byte lists, lists, records)."""
    if isinstance(value, (str, bytes, bytearray)):
        return len(value)
    if value is None or isinstance(value, (bool, int, float)) or depth > 4:
        return 8
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], int) and not isinstance(value[0], bool):
            return len(value)  # list<u8>
        return sum(_weight(v, depth + 1) for v in value)
    if isinstance(value, Record):
        return sum(_weight(v, depth + 1) for v in vars(value).values())
    if isinstance(value, Variant):
        return _weight(value.payload, depth + 1)
    return 8


def charge_fuel(store: Any, amount: int) -> None:
    """Take ``amount`` from the store's fuel; at zero the guest traps ("all fuel consumed") on
    its next instruction."""
    try:
        left = Store.get_fuel(store)
        Store.set_fuel(store, max(0, left - amount))
    except WasmtimeError:
        pass


class CallDeadlineReached(Exception):
    """Raised into wasmtime (a trap) when the guest calls an import after its call's deadline."""


def _guarded(
    log: LogSink,
    name: str,
    fn: Callable[..., Any],
    on_error: Callable[[Exception], Any],
    deadline: Callable[[], Optional[float]] = lambda: None,
) -> Callable[..., Any]:
    """A host function that never raises into wasmtime (a Python exception there becomes a
    trap that kills the instance): unexpected errors are logged and mapped to a typed error.
    Every call is charged fuel (IMPORT_CALL_FUEL plus IMPORT_BYTE_FUEL per byte in and out),
    and none runs after the call's wall-clock ``deadline``: that one traps on purpose."""

    def wrapper(store: Any, *args: Any) -> Any:
        until = deadline()
        if until is not None and time.monotonic() >= until:
            raise CallDeadlineReached(f"{name} called after the call's wall-clock deadline")
        charge_fuel(store, IMPORT_CALL_FUEL + IMPORT_BYTE_FUEL * _weight(args))
        try:
            result = fn(*args)
        except Exception as e:  # noqa: BLE001 - see docstring
            log.event("error", "module", "host_import_failed", [("import", name), ("error", f"{type(e).__name__}: {e}")])
            return on_error(e)
        if result is not None:
            charge_fuel(store, IMPORT_BYTE_FUEL * _weight(result))
        return result

    return wrapper


class WitImports:
    """The imports as the component sees them: WIT values in, WIT values out (records as
    ``Record``, errors as ``Variant(case, message)``). Each method is what the linker calls."""

    def __init__(self, host: HostServices):
        self.host = host
        #: Seconds spent inside host imports (HTTP, state, auth).
        self.import_time = 0.0

    # http
    def http_send(self, req: Record) -> Any:
        method = req.method
        url = req.url
        t = time.perf_counter()
        try:
            r = self.host.http.send(method, url, list(req.headers), req.body, getattr(req, "timeout-ms"))
        except HttpFault as f:
            level = "warn" if f.kind == "denied" else "debug"
            self.host.log.event(
                level,
                "http",
                "request_failed",
                [("method", method), ("url", url.split("?", 1)[0]), ("error", f.kind.replace("-", "_")), ("detail", f.message)],
            )
            return Variant(f.kind, f.message)
        finally:
            self.import_time += time.perf_counter() - t
        resp = Record()
        resp.status = r.status
        resp.headers = r.headers
        resp.body = r.body
        return resp

    # state
    def _state(self, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        try:
            return fn()
        except StateFault as f:
            return Variant(f.kind, f.message)
        finally:
            self.import_time += time.perf_counter() - t

    def state_read(self, name: str) -> Any:
        # The WIT carries state as text (one value across the boundary, not a byte list).
        def read() -> Optional[str]:
            data = self.host.state.read(name)
            if data is None:
                return None
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise StateFault("io", f"state file {name!r} is not UTF-8 text") from None

        return self._state(read)

    def state_write(self, name: str, contents: str) -> Any:
        return self._state(lambda: self.host.state.write(name, contents.encode("utf-8")))

    def state_delete(self, name: str) -> Any:
        return self._state(lambda: self.host.state.delete(name))

    def state_list_names(self) -> Any:
        return self._state(self.host.state.list_names)

    # auth
    def auth_refresh(self) -> Any:
        if not self.host.http.take_401():
            # A grant rotates the refresh token and rewrites config.json: only against a 401
            # the host's own broker returned in this call, one grant per such answer.
            self.host.log.event("debug", "auth", "token_refresh_skipped", [("reason", "no_401")])
            return None
        t = time.perf_counter()
        try:
            self.host.auth.refresh(TokenService.REJECTED)
            return None
        except AuthFault as f:
            return Variant(f.kind, f.message)
        finally:
            self.import_time += time.perf_counter() - t

    # log, progress
    def log_event(self, level: str, feature: str, event: str, fields: List[Tuple[str, str]]) -> None:
        self.host.log.event(level, feature, event, fields)

    def progress_report(self, feature: str, phase: str, done: int, total: Optional[int]) -> None:
        self.host.progress.report(feature, phase, done, total)


def build_linker(eng: Engine, imports: WitImports) -> Linker:
    """A linker with WASI (nothing behind it) and our five interfaces bound to ``imports``."""
    linker = Linker(eng)
    linker.add_wasip2()
    log = imports.host.log
    deadline = lambda: imports.host.http.call_deadline  # noqa: E731 - set per call by Adapter.call
    io_error = lambda e: Variant("io", f"host error: {type(e).__name__}")  # noqa: E731
    with linker.root() as root:
        with root.add_instance(f"{WIT_PACKAGE}/types@{WIT_VERSION}"):
            pass
        with root.add_instance(f"{WIT_PACKAGE}/http@{WIT_VERSION}") as i:
            i.add_func("send", _guarded(log, "http.send", imports.http_send, lambda e: Variant("invalid-request", f"host error: {e}"), deadline))
        with root.add_instance(f"{WIT_PACKAGE}/state@{WIT_VERSION}") as i:
            i.add_func("read", _guarded(log, "state.read", imports.state_read, io_error, deadline))
            i.add_func("write", _guarded(log, "state.write", imports.state_write, io_error, deadline))
            i.add_func("delete", _guarded(log, "state.delete", imports.state_delete, io_error, deadline))
            i.add_func("list-names", _guarded(log, "state.list-names", imports.state_list_names, io_error, deadline))
        with root.add_instance(f"{WIT_PACKAGE}/auth@{WIT_VERSION}") as i:
            i.add_func("refresh", _guarded(log, "auth.refresh", imports.auth_refresh, lambda e: Variant("failed", f"host error: {e}"), deadline))
        with root.add_instance(f"{WIT_PACKAGE}/log@{WIT_VERSION}") as i:
            i.add_func("event", _guarded(log, "log.event", imports.log_event, lambda e: None, deadline))
        with root.add_instance(f"{WIT_PACKAGE}/progress@{WIT_VERSION}") as i:
            i.add_func("report", _guarded(log, "progress.report", imports.progress_report, lambda e: None, deadline))
    return linker


def apply_store_limits(store: Store, limits: Limits) -> None:
    """Linear memory, table elements and the counts of instances, tables and memories: a
    table of 128 M function references would otherwise bypass the memory cap."""
    store.set_limits(
        memory_size=limits.memory_bytes,
        table_elements=limits.table_elements,
        instances=MAX_INSTANCES,
        tables=MAX_TABLES,
        memories=MAX_MEMORIES,
    )


class Adapter:
    """One instance of the component with its own store, limits and host services. After a
    trap it is dead: every later call raises HostError and a new one must be made."""

    def __init__(self, component: Component, host: HostServices):
        self.host = host
        self.limits: Limits = host.policy.limits
        self.imports = WitImports(host)
        self._guest_output = bytearray()
        self.dead = False
        eng = engine()
        self._linker = build_linker(eng, self.imports)
        self.store = Store(eng)
        wasi = WasiConfig()
        # No arguments, environment or preopened directories; stdout/stderr go to the log.
        wasi.stdout_custom = self._capture
        wasi.stderr_custom = self._capture
        self.store.set_wasi(wasi)
        apply_store_limits(self.store, self.limits)
        self._arm()
        try:
            self.instance = self._linker.instantiate(self.store, component)
        except WasmtimeError as e:
            self.dead = True
            raise self._translate("instantiating the component", e) from None
        iface = self.instance.get_export_index(self.store, EXPORT)
        if iface is None:
            self.dead = True
            raise HostError("host", f"the component does not export {EXPORT}")
        self._funcs = {}
        for name in EXPORT_FUNCS:
            idx = self.instance.get_export_index(self.store, name, iface)
            func = self.instance.get_func(self.store, idx) if idx is not None else None
            if func is None:
                self.dead = True
                raise HostError("host", f"the component's {EXPORT} has no function {name!r}")
            self._funcs[name] = func

    def _capture(self, data: bytes) -> int:
        room = GUEST_OUTPUT_CAPACITY - len(self._guest_output)
        if room > 0:
            self._guest_output += bytes(data[:room])
        return len(data)

    def _arm(self) -> None:
        """Fuel and the epoch deadline are budgets per call: re-armed before each one."""
        self.store.set_fuel(self.limits.fuel_per_call)
        ticks = max(1, int(self.limits.call_timeout_secs / EPOCH_TICK_SECS))
        self.store.set_epoch_deadline(ticks)

    def _flush_guest_output(self) -> str:
        text = self._guest_output.decode("utf-8", "replace")
        self._guest_output.clear()
        for line in text.splitlines():
            if line.strip():
                self.host.log.event("warn", "module", "guest_output", [("line", line)])
        return text

    def _translate(self, what: str, e: BaseException) -> HostError:
        guest = self._flush_guest_output()
        text = str(e).strip()
        # wasmtime's text is "error while executing at wasm backtrace: ... Caused by: <root>".
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        root = lines[-1] if lines else type(e).__name__
        low = root.lower()
        cap = _size(self.limits.memory_bytes)
        if "hostcalls" in low:
            kind, message = "limit", (
                f"{what}: the component returned more data than this host copies in one call "
                "(wasmtime-py caps a call's copies at 128 MiB)"
            )
        elif "fuel" in low:
            kind, message = "limit", f"{what}: stopped after using its CPU budget of {self.limits.fuel_per_call} instructions (fuel)"
        elif "interrupt" in low or "wall-clock deadline" in low:
            kind, message = "limit", f"{what}: stopped after exceeding its wall-clock limit of {self.limits.call_timeout_secs:g} s"
        elif "memory allocation of" in guest or "exceeds memory limits" in low or "growing memory" in low:
            kind, message = "limit", f"{what}: stopped at its memory limit of {cap}"
        elif "unreachable" in low:
            kind, message = "trap", (
                f"{what}: the component aborted ({root}): a panic, or its memory ran out under the {cap} limit"
            )
        else:
            kind, message = "trap", f"{what}: the component trapped: {root}"
        self.host.log.event("error", "module", "call_stopped", [("kind", kind), ("reason", message)])
        return HostError(kind, message)

    def call(self, name: str, *args: Any) -> Any:
        if self.dead:
            raise HostError("host", "the component instance was stopped by an earlier failure; start a new one")
        func = self._funcs[name]
        self._arm()
        self.host.http.unspent_401s = 0  # auth.refresh grants only against this call's 401s
        self.host.http.call_deadline = time.monotonic() + self.limits.call_timeout_secs
        outcome: Dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = func(self.store, *args)
                func.post_return(self.store)
            except BaseException as e:  # noqa: BLE001 - handed to the caller below
                outcome["error"] = e

        # The call runs in a thread of its own so the caller can stop waiting at the deadline:
        # epoch interruption stops guest code, but a `wasi:clocks` sleep is wasmtime's WASI
        # (not capped in this host) and can block far longer. The abandoned thread keeps the
        # dead instance until that sleep ends; it then traps at once (epoch deadline passed,
        # every import refuses after the deadline). The Rust host caps the sleep itself
        # (host-harness/host/src/runtime/metering.rs).
        worker = threading.Thread(target=run, name=f"trakt-wasm-{name}", daemon=True)
        worker.start()
        worker.join(self.limits.call_timeout_secs + WATCHDOG_GRACE_SECS)
        if worker.is_alive():
            self.dead = True
            message = (
                f"{name}: stopped after exceeding its wall-clock limit of {self.limits.call_timeout_secs:g} s "
                "(it was waiting in a host call; the instance was abandoned)"
            )
            self.host.log.event("error", "module", "call_stopped", [("kind", "limit"), ("reason", message)])
            raise HostError("limit", message)
        error = outcome.get("error")
        if error is not None:
            self.dead = True
            if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: not ours to map
                raise error
            # WasmtimeError, or a value the bindings could not convert
            raise self._translate(name, error) from None
        self._flush_guest_output()
        return outcome.get("result")

    def fuel_used(self) -> int:
        try:
            return self.limits.fuel_per_call - self.store.get_fuel()
        except WasmtimeError:
            return 0

    def close(self) -> None:
        self.dead = True
        self.host.http.close()

    # The exports, with WIT shapes in and out (see items.py for the JSON side).

    def manifest(self) -> Record:
        return self.call("manifest")

    def configure(self, options_json: str) -> Optional[Variant]:
        """None when accepted, else the ``adapter-error``."""
        return self.call("configure", options_json)

    def health(self) -> Record:
        return self.call("health")

    def build_index(self, feature: str) -> Any:
        """A list of index-entry records, or an ``adapter-error`` Variant."""
        return self.call("build-index", feature)

    def build_index_json(self, feature: str) -> Any:
        """The index as JSON text (one value to copy, however large), or an ``adapter-error``
        Variant."""
        return self.call("build-index-json", feature)

    def add(self, feature: str, items: List[Record], dry_run: bool) -> Any:
        return self.call("add", feature, items, bool(dry_run))

    def remove(self, feature: str, items: List[Record], dry_run: bool) -> Any:
        return self.call("remove", feature, items, bool(dry_run))

    def last_ledger(self) -> List[Record]:
        return self.call("last-ledger")
