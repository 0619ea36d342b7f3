import sys

from retrain_job.retrain.job import main

sys.exit(main())
