import sys

from moodbox.cli import main

sys.exit(main())
