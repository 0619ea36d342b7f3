import sys

from retrain_job.quality.job import main

sys.exit(main())
