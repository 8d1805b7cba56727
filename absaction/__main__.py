import sys

from absaction.cli import main

sys.exit(main())
