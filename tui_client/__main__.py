"""`python -m tui_client` = `tui-client`."""

import sys

from .cli import main

sys.exit(main())
