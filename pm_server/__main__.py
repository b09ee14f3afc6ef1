import sys

from pm_server.cli import main

sys.exit(main())
