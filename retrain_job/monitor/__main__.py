import sys

from retrain_job.monitor.modes import main

sys.exit(main())
