//! Loading the component and calling it: bindings, the store's host state, per-call limits
//! (fuel, epoch deadline, memory) and the translation of traps into clear errors.

use std::path::Path;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::config::Credentials;
use crate::engine::{self, LoadSource};
use crate::imports::auth::{AuthFault, SharedCredentials, TokenService, TokenStore};
use crate::imports::http::HttpBroker;
use crate::imports::log::{Level, LogSink};
use crate::imports::progress::ProgressSink;
use crate::imports::state::StateStore;
use crate::policy::{Policy, MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES};
use crate::state_scope::StateLocation;

mod metering;
use metering::CallDeadlineReached;
mod stream;
pub use stream::IndexTextSink;
mod wit_imports;

mod bindings {
    wasmtime::component::bindgen!({
        world: "trakt-adapter",
        path: "../../wit",
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::sync::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });

    /// `index-stream`, which a component may export beside `sync-adapter`: looked up on its
    /// own so a component without it still loads (wit/world.wit).
    pub mod stream {
        wasmtime::component::bindgen!({
            world: "index-stream-export",
            path: "../../wit",
            with: {
                "crosswatch:sync/types": super::crosswatch::sync::types,
            },
        });
    }
}

use bindings::crosswatch::sync as wit;
pub use bindings::crosswatch::sync::types::{
    AccountLimit, AdapterError, AdapterManifest, Feature, FeatureHealth, FeatureSupport, HealthReport, HttpFailure, Id,
    IndexEntry, Item, ItemOutcome, ItemStatus, LedgerEntry, PlannedRequest, RateLimited, Unresolved, WriteReport,
};

/// Guest stdout/stderr kept per instance; more is dropped by the pipe.
const GUEST_OUTPUT_CAPACITY: usize = 1 << 20;

/// What kind of failure of the host or the sandbox a [`HostError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostErrorKind {
    /// A sandbox limit (memory, CPU fuel, wall clock) stopped the call.
    Limit,
    /// The component trapped for another reason.
    Trap,
    /// The component could not be loaded or instantiated, or the instance is dead.
    Host,
}

impl HostErrorKind {
    /// The `kind` printed in JSON error objects.
    pub fn as_str(self) -> &'static str {
        match self {
            HostErrorKind::Limit => "limit",
            HostErrorKind::Trap => "trap",
            HostErrorKind::Host => "host",
        }
    }
}

/// A failure of the host or the sandbox, as opposed to an error the adapter reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    pub kind: HostErrorKind,
    pub message: String,
}

impl HostError {
    pub fn host(message: impl Into<String>) -> HostError {
        HostError { kind: HostErrorKind::Host, message: message.into() }
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for HostError {}

fn host_error(what: &str, e: wasmtime::Error) -> HostError {
    HostError::host(format!("{what}: {e:#}"))
}

/// The error `PeakLimits` fails a `memory.grow` with once the memory cap is reached, so a
/// trap can be told apart from others by type rather than by wasmtime's message text.
#[derive(Debug)]
struct MemoryLimitReached {
    desired: usize,
    limit: usize,
}

impl std::fmt::Display for MemoryLimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "memory.grow to {} bytes refused: the limit is {} bytes", self.desired, self.limit)
    }
}

impl std::error::Error for MemoryLimitReached {}

/// The error a `table.grow` (or a table's creation) fails with above the table-element cap.
#[derive(Debug)]
struct TableLimitReached {
    desired: usize,
    limit: usize,
}

impl std::fmt::Display for TableLimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "table.grow to {} elements refused: the limit is {} elements", self.desired, self.limit)
    }
}

impl std::error::Error for TableLimitReached {}

/// The store's data: WASI basics with nothing behind them, plus our imports.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: PeakLimits,
    http: HttpBroker,
    state: StateStore,
    auth: TokenService,
    log: LogSink,
    progress: ProgressSink,
    /// Time spent inside host imports (HTTP, state, auth) during calls, so benchmarks can
    /// tell the component's own share of a call.
    import_time: Duration,
    /// When the current call's wall-clock budget ends (set by `Adapter::arm`).
    call_deadline: Option<Instant>,
    /// Fuel the imports charged since the last return into the guest (`metering`).
    pending_fuel: u64,
    /// An import found the call's wall-clock limit reached (an HTTP request cut by it):
    /// `metering` stops the call on the return into the guest.
    deadline_reached: bool,
}

/// The store's memory limits, remembering the largest linear memory the component asked for
/// (benchmarks report it as the component's peak memory) and the largest table.
struct PeakLimits {
    limits: StoreLimits,
    memory_limit: usize,
    peak_memory: usize,
    table_limit: usize,
    peak_table_elements: usize,
}

impl PeakLimits {
    /// The limits of `policy`: memory bytes and table elements per memory or table, and the
    /// counts of instances, tables and memories; a refused grow traps.
    fn new(limits: &crate::policy::Limits) -> PeakLimits {
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .table_elements(limits.table_elements)
            .instances(MAX_INSTANCES)
            .tables(MAX_TABLES)
            .memories(MAX_MEMORIES)
            .trap_on_grow_failure(true)
            .build();
        PeakLimits {
            limits: store_limits,
            memory_limit: limits.memory_bytes,
            peak_memory: 0,
            table_limit: limits.table_elements,
            peak_table_elements: 0,
        }
    }
}

impl ResourceLimiter for PeakLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            return Err(wasmtime::Error::new(MemoryLimitReached { desired, limit: self.memory_limit }));
        }
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(allowed)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.table_limit {
            return Err(wasmtime::Error::new(TableLimitReached { desired, limit: self.table_limit }));
        }
        let allowed = self.limits.table_growing(current, desired, maximum)?;
        if allowed {
            self.peak_table_elements = self.peak_table_elements.max(desired);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A loaded, linked component, ready to instantiate. Create once per process.
pub struct Runtime {
    engine: Engine,
    component: wasmtime::component::Component,
    pre: bindings::TraktAdapterPre<HostState>,
    indices: bindings::TraktAdapterIndices,
    /// `index-stream`, when the component exports it.
    stream: Option<bindings::stream::IndexStreamExportIndices>,
    pub load_source: LoadSource,
}

impl Runtime {
    /// Load `wasm` (compiling it or taking it from `cache_dir`) and link the imports.
    pub fn new(wasm: &[u8], cache_dir: Option<&Path>) -> Result<Runtime, HostError> {
        Runtime::new_known(wasm, None, cache_dir)
    }

    /// `new`, with the sha256 of `wasm` when the caller knows it (a component built into the
    /// host: hashing a megabyte was a tenth of a cached start).
    pub fn new_known(wasm: &[u8], sha256: Option<&str>, cache_dir: Option<&Path>) -> Result<Runtime, HostError> {
        let info = crate::preflight::preflight_known(wasm, sha256)?;
        let engine = engine::new_engine().map_err(|e| host_error("cannot create the wasm engine", e))?;
        let (component, load_source) = engine::load_component(&engine, wasm, &info.sha256, cache_dir)
            .map_err(|e| host_error("cannot load the component (is it a crosswatch:sync component?)", e))?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        // The WASI basics Rust's std imports. Whatever a component asks of them finds nothing:
        // no environment, no arguments, no preopened directories, sockets denied.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| host_error("linking WASI", e))?;
        metering::link_capped_sleeps(&mut linker).map_err(|e| host_error("linking WASI clocks", e))?;
        wit::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(|e| host_error("linking types", e))?;
        wit::http::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(|e| host_error("linking http", e))?;
        wit::state::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(|e| host_error("linking state", e))?;
        wit::auth::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(|e| host_error("linking auth", e))?;
        wit::log::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(|e| host_error("linking log", e))?;
        wit::progress::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| host_error("linking progress", e))?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| host_error("the component's imports do not match what this host provides", e))?;
        let indices = bindings::TraktAdapterIndices::new(&instance_pre)
            .map_err(|e| host_error("the component does not export crosswatch:sync/sync-adapter@0.1.0", e))?;
        let stream = bindings::stream::IndexStreamExportIndices::new(&instance_pre).ok();
        let pre = bindings::TraktAdapterPre::new(instance_pre)
            .map_err(|e| host_error("the component does not export crosswatch:sync/sync-adapter@0.1.0", e))?;
        Ok(Runtime { engine, component, pre, indices, stream, load_source })
    }

    /// Names of the interfaces the component imports, e.g. `crosswatch:sync/http@0.1.0`.
    pub fn component_imports(&self) -> Vec<String> {
        let ty = self.component.component_type();
        let mut names: Vec<String> = ty.imports(&self.engine).map(|(name, _)| name.to_string()).collect();
        names.sort();
        names
    }

    /// A fresh instance with its own store, limits and host state.
    pub fn instantiate(&self, host: HostSetup) -> Result<Adapter, HostError> {
        let creds = SharedCredentials::new(host.credentials);
        let guest_output = MemoryOutputPipe::new(GUEST_OUTPUT_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .stdout(guest_output.clone())
            .stderr(guest_output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            limits: PeakLimits::new(&host.policy.limits),
            http: HttpBroker::new(host.policy.clone(), creds.clone()),
            state: StateStore::at(host.state, host.policy.limits.state_quota_bytes, Some(host.log.clone()))
                .with_max_files(host.policy.limits.state_max_files),
            auth: TokenService::new(creds.clone(), host.token_store, host.policy.oauth.base_url(), host.log.clone()),
            log: host.log.clone(),
            progress: host.progress,
            import_time: Duration::ZERO,
            call_deadline: None,
            pending_fuel: 0,
            deadline_reached: false,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.call_hook(metering::on_host_transition);
        let mut adapter = Adapter {
            store,
            bindings: None,
            policy: host.policy,
            creds,
            log: host.log,
            guest_output,
            guest_output_seen: 0,
        };
        adapter.arm();
        let instance = self
            .pre
            .instance_pre()
            .instantiate(&mut adapter.store)
            .map_err(|e| adapter.trap_error("instantiating the component", e))?;
        let bindings = self
            .indices
            .load(&mut adapter.store, &instance)
            .map_err(|e| adapter.trap_error("instantiating the component", e))?;
        let stream = match &self.stream {
            Some(s) => Some(
                s.load(&mut adapter.store, &instance)
                    .map_err(|e| adapter.trap_error("instantiating the component", e))?,
            ),
            None => None,
        };
        adapter.bindings = Some(Bindings { adapter: bindings, stream });
        Ok(adapter)
    }
}

/// A live instance's exports.
struct Bindings {
    adapter: bindings::TraktAdapter,
    /// `index-stream`, when the component exports it.
    stream: Option<bindings::stream::IndexStreamExport>,
}

/// Everything an instance needs from its host.
pub struct HostSetup {
    pub policy: Policy,
    pub credentials: Credentials,
    /// The config.json block rotated tokens are persisted into; None keeps them in memory only.
    pub token_store: Option<TokenStore>,
    /// The account's (and pair's) state directory: `StateLocation::plain(dir)` or
    /// `StateLocation::resolve` (see `state_scope`).
    pub state: StateLocation,
    pub log: LogSink,
    pub progress: ProgressSink,
}

/// One instance of the adapter. After a trap it is dead: every later call fails.
pub struct Adapter {
    store: Store<HostState>,
    bindings: Option<Bindings>,
    policy: Policy,
    creds: SharedCredentials,
    log: LogSink,
    guest_output: MemoryOutputPipe,
    guest_output_seen: usize,
}

impl Adapter {
    /// Fuel and the epoch deadline are budgets per call: re-arm them before each one.
    fn arm(&mut self) {
        let limits = &self.policy.limits;
        let _ = self.store.set_fuel(limits.fuel_per_call);
        let ticks = (limits.call_timeout.as_millis() / engine::EPOCH_TICK.as_millis()).max(1) as u64;
        self.store.set_epoch_deadline(ticks);
        self.store.epoch_deadline_trap();
        self.store.data_mut().call_deadline = Some(Instant::now() + limits.call_timeout);
        self.store.data_mut().deadline_reached = false;
    }

    /// Current credentials (after any refresh during the calls so far).
    pub fn credentials(&self) -> Credentials {
        self.creds.snapshot()
    }

    /// Refresh the access token now if fewer than `margin_secs` (or a tenth of its lifetime)
    /// remain; true when a refresh happened.
    pub fn refresh_if_expiring(&self, margin_secs: i64) -> Result<bool, AuthFault> {
        self.store.data().auth.refresh_if_expiring(margin_secs)
    }

    /// Largest linear memory the component has had, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.store.data().limits.peak_memory
    }

    /// Largest table the component has had, in elements.
    pub fn peak_table_elements(&self) -> usize {
        self.store.data().limits.peak_table_elements
    }

    /// Time spent in host imports (HTTP, auth) since the instance started.
    pub fn import_time(&self) -> Duration {
        self.store.data().import_time
    }

    /// Fuel (wasm instructions, roughly) left of the current call's budget.
    pub fn fuel_left(&self) -> u64 {
        self.store.get_fuel().unwrap_or(0)
    }

    /// Progress reports received so far.
    pub fn progress_reports(&self) -> u64 {
        self.store.data().progress.reports
    }

    fn trap_error(&mut self, what: &str, e: wasmtime::Error) -> HostError {
        self.bindings = None;
        self.store.data_mut().progress.finish_all();
        let limits = &self.policy.limits;
        let text = format!("{e:#}");
        if e.downcast_ref::<TableLimitReached>().is_some() {
            let message = format!("{what}: stopped at its table limit of {} elements", limits.table_elements);
            self.log.event(Level::Error, "module", "call_stopped", &[("kind", "limit"), ("reason", &message)]);
            return HostError { kind: HostErrorKind::Limit, message };
        }
        // Epoch interruption in guest code, or the metering hook on a return from the host.
        let past_deadline = matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt))
            || e.downcast_ref::<CallDeadlineReached>().is_some();
        let (kind, message) = match (e.downcast_ref::<Trap>(), e.downcast_ref::<MemoryLimitReached>()) {
            _ if past_deadline => (
                HostErrorKind::Limit,
                format!("{what}: stopped after exceeding its wall-clock limit of {:?}", limits.call_timeout),
            ),
            (Some(Trap::OutOfFuel), _) => (
                HostErrorKind::Limit,
                format!("{what}: stopped after using its CPU budget of {} instructions (fuel)", limits.fuel_per_call),
            ),
            (_, Some(_)) => (
                HostErrorKind::Limit,
                format!("{what}: stopped at its memory limit of {} MiB", limits.memory_bytes >> 20),
            ),
            _ => (HostErrorKind::Trap, format!("{what}: the component trapped: {text}")),
        };
        self.log.event(Level::Error, "module", "call_stopped", &[("kind", kind.as_str()), ("reason", &message)]);
        HostError { kind, message }
    }

    fn flush_guest_output(&mut self) {
        let bytes = self.guest_output.contents();
        if bytes.len() > self.guest_output_seen {
            let text = String::from_utf8_lossy(&bytes[self.guest_output_seen..]).into_owned();
            self.guest_output_seen = bytes.len();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                self.log.event(Level::Warn, "module", "guest_output", &[("line", line)]);
            }
        }
    }

    fn call<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(&Bindings, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, HostError> {
        let Some(bindings) = self.bindings.take() else {
            return Err(HostError::host("the component instance was stopped by an earlier failure; start a new one"));
        };
        self.arm();
        self.store.data().http.begin_call();
        let result = f(&bindings, &mut self.store);
        self.flush_guest_output();
        match result {
            Ok(r) => {
                self.bindings = Some(bindings);
                Ok(r)
            }
            Err(e) => Err(self.trap_error(what, e)),
        }
    }

    pub fn manifest(&mut self) -> Result<AdapterManifest, HostError> {
        self.call("manifest", |b, s| b.adapter.crosswatch_sync_sync_adapter().call_manifest(s))
    }

    pub fn configure(&mut self, options_json: &str) -> Result<Result<(), AdapterError>, HostError> {
        self.call("configure", |b, s| b.adapter.crosswatch_sync_sync_adapter().call_configure(s, options_json))
    }

    pub fn health(&mut self) -> Result<HealthReport, HostError> {
        self.call("health", |b, s| b.adapter.crosswatch_sync_sync_adapter().call_health(s))
    }

    pub fn build_index(&mut self, feature: Feature) -> Result<Result<Vec<IndexEntry>, AdapterError>, HostError> {
        self.call("build-index", |b, s| b.adapter.crosswatch_sync_sync_adapter().call_build_index(s, feature))
    }

    /// The index as the text of one JSON object (key -> CrossWatch item).
    pub fn build_index_json(&mut self, feature: Feature) -> Result<Result<String, AdapterError>, HostError> {
        self.call("build-index-json", |b, s| b.adapter.crosswatch_sync_sync_adapter().call_build_index_json(s, feature))
    }

    pub fn add(
        &mut self,
        feature: Feature,
        items: &[Item],
        dry_run: bool,
    ) -> Result<Result<WriteReport, AdapterError>, HostError> {
        self.call("add", |b, s| b.adapter.crosswatch_sync_sync_adapter().call_add(s, feature, items, dry_run))
    }

    pub fn remove(
        &mut self,
        feature: Feature,
        items: &[Item],
        dry_run: bool,
    ) -> Result<Result<WriteReport, AdapterError>, HostError> {
        self.call("remove", |b, s| b.adapter.crosswatch_sync_sync_adapter().call_remove(s, feature, items, dry_run))
    }

    /// The requests made by the most recent health, build-index, add or remove call.
    pub fn last_ledger(&mut self) -> Result<Vec<LedgerEntry>, HostError> {
        self.call("last-ledger", |b, s| b.adapter.crosswatch_sync_sync_adapter().call_last_ledger(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module (table 0 funcref) (func (export "grow") (param i32) (result i32)
    ///   ref.null func  local.get 0  table.grow 0))`, assembled by hand: a Rust guest cannot
    /// emit `table.grow`, so the store limits are checked on a core module of their own.
    const TABLE_GROW_MODULE: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type: (i32) -> i32
        0x03, 0x02, 0x01, 0x00, // function 0 has type 0
        0x04, 0x04, 0x01, 0x70, 0x00, 0x00, // table: funcref, min 0, no max
        0x07, 0x08, 0x01, 0x04, b'g', b'r', b'o', b'w', 0x00, 0x00, // export "grow"
        0x0a, 0x0b, 0x01, 0x09, 0x00, 0xd0, 0x70, 0x20, 0x00, 0xfc, 0x0f, 0x00, 0x0b, // code
    ];

    fn grow(limits: &crate::policy::Limits, by: i32) -> (wasmtime::Result<i32>, usize) {
        let engine = engine::new_engine().unwrap();
        let module = wasmtime::Module::new(&engine, TABLE_GROW_MODULE).unwrap();
        let mut store = Store::new(&engine, PeakLimits::new(limits));
        store.limiter(|s| s);
        store.set_fuel(u64::MAX / 2).unwrap();
        store.set_epoch_deadline(1_000);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let f = instance.get_typed_func::<i32, i32>(&mut store, "grow").unwrap();
        let result = f.call(&mut store, by);
        let peak = store.data().peak_table_elements;
        (result, peak)
    }

    /// Issue 12, point 2: a `table.grow` past `Limits::table_elements` traps with the typed
    /// limit error (the host's memory is not spent); below the bound it works.
    #[test]
    fn tables_are_bounded_by_the_store_limits() {
        let limits = crate::policy::Limits::default();
        assert_eq!(limits.table_elements, 10_000);
        let (result, peak) = grow(&limits, 1_000);
        assert_eq!(result.unwrap(), 0, "the old size");
        assert_eq!(peak, 1_000);
        let (result, _) = grow(&limits, 128 << 20);
        let e = result.expect_err("128 M elements must be refused");
        assert!(e.downcast_ref::<TableLimitReached>().is_some(), "{e:#}");
        let (result, _) = grow(&limits, 10_001);
        assert!(result.is_err());
    }
}
