import sys

from serialtrace.cli import main

sys.exit(main())
