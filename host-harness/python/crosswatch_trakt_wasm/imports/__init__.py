"""The host side of the component's imports (wit/host.wit), in plain Python, one module per
import as in the Rust host (host-harness/host/src/imports/): ``http`` behind the origin policy and
signed by the host, ``state`` files with validated names, atomic writes and a quota, ``auth``
(the refresh-token grant with the rotated pair persisted; ``tokens.py`` and
``tokenstore.py``), ``log`` lines in CrossWatch's format and ``progress``.

Each service has a plain Python API (used by tests and the provider) and the runtime wraps
them into the WIT shapes (see runtime.py). The names below stay importable from here.
"""

from ..config import Credentials, TokenUpdate, write_atomic  # noqa: F401
from ..tokens import (  # noqa: F401
    ROTATIONS,
    USER_AGENT,
    AuthFault,
    SharedCredentials,
    TokenService,
    latest_rotation,
    needs_refresh,
    parse_token,
    refresh_grant,
)
from .http import (  # noqa: F401
    DEFAULT_TIMEOUT_SECS,
    IDEMPOTENT,
    MAX_BODY_BYTES,
    SIGNED_HEADERS,
    HttpBroker,
    HttpFault,
    HttpResponse,
)
from .log import LEVELS, LogSink, crosswatch_logger, default_level, format_line, parse_level  # noqa: F401
from .progress import ProgressSink  # noqa: F401
from .state import StateFault, StateStore, validate_name  # noqa: F401
