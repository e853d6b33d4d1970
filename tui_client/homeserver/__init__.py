"""A private Synapse homeserver on loopback for tests and the demo.

``ensure_synapse()`` installs a pinned Synapse into its own cached virtualenv on first use;
``SynapseServer`` generates its config, starts and stops it, and registers users.
"""

from .install import (
    PYTHON_ENV_VAR,
    SYNAPSE_VERSION,
    HomeserverError,
    default_env_dir,
    ensure_synapse,
    synapse_python,
)
from .synapse import SynapseServer, find_free_port

__all__ = [
    "PYTHON_ENV_VAR",
    "SYNAPSE_VERSION",
    "HomeserverError",
    "SynapseServer",
    "default_env_dir",
    "ensure_synapse",
    "find_free_port",
    "synapse_python",
]
