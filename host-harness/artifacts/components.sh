# Sourced by the Python and Node hosts' run_tests.sh, with REPO set to the repository root:
# sets and exports TRAKT_ADAPTER_WASM, HOSTILE_COMPONENT_WASM and FOREIGN_IMPORT_COMPONENT_WASM,
# each unless already set, from the artifacts crate's small binary, which prints where its
# build script put them.
#
# The binary is built with the selection `cargo test --workspace` builds (`--workspace
# --all-targets`), so it takes the components the Rust tests already built, in seconds. Cargo
# resolves the features of build dependencies per selection: `cargo run -p
# trakt-adapter-artifacts` alone resolved them differently, rebuilt Binaryen's C++ and the
# component under other names, and took 9 minutes of a CI run. Built without TRAKT_ADAPTER_WASM
# in the environment: the build script would take that file and make the test components empty
# placeholders.
if [ -z "${TRAKT_ADAPTER_WASM:-}" ] || [ -z "${HOSTILE_COMPONENT_WASM:-}" ] || [ -z "${FOREIGN_IMPORT_COMPONENT_WASM:-}" ]; then
    (cd "$REPO" && env -u TRAKT_ADAPTER_WASM cargo build -q --workspace --all-targets)
    cw_target_dir="${CARGO_TARGET_DIR:-target}"
    case "$cw_target_dir" in
        /*) ;;
        *) cw_target_dir="$REPO/$cw_target_dir" ;;
    esac
    cw_artifacts="$cw_target_dir/debug/trakt-adapter-artifacts"
    TRAKT_ADAPTER_WASM="${TRAKT_ADAPTER_WASM:-$("$cw_artifacts")}"
    # The hostile test component (tests/hostile): sandbox tests.
    HOSTILE_COMPONENT_WASM="${HOSTILE_COMPONENT_WASM:-$("$cw_artifacts" --hostile)}"
    # The foreign-import test component (host-harness/artifacts/foreign.rs): preflight tests.
    FOREIGN_IMPORT_COMPONENT_WASM="${FOREIGN_IMPORT_COMPONENT_WASM:-$("$cw_artifacts" --foreign-import)}"
fi
export TRAKT_ADAPTER_WASM HOSTILE_COMPONENT_WASM FOREIGN_IMPORT_COMPONENT_WASM
