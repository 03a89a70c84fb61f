"""CrossWatch sync provider for Trakt, running the Trakt adapter WebAssembly component
(``trakt_adapter.wasm``) in-process on the ``wasmtime`` package.

Register it in CrossWatch with a one-line module ``providers/sync/_mod_TRAKT_WASM.py``::

    from crosswatch_trakt_wasm import OPS  # noqa: F401
"""

__version__ = "0.1.0"

from .provider import OPS, TraktWasmError, TraktWasmOps, manifest, reset_sessions  # noqa: E402
from .config import settings  # noqa: E402

__all__ = ["OPS", "TraktWasmError", "TraktWasmOps", "manifest", "reset_sessions", "settings", "__version__"]
