"""The only code that touches matrix-nio's internals: our subclasses of its client
(`client.EngineClient`) and of the responses it parses (`responses`), its Olm machine
(`olm.AppOlm`) and its SQLite store (`store.AppStore`, with numbered `migrations`). Everything
else in the engine talks to these, not to nio."""

from .schemas import install as _install_schemas

_install_schemas()  # nio's schema checks, compiled once (see schemas.py)
