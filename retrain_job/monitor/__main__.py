import sys

from retrain_job.monitor.job import main

sys.exit(main())
