import sys

from flowmetrics.cli import main

sys.exit(main())
