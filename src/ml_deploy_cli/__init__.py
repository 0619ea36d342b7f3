"""`ml-deploy`: the operator's view of a deployed stack, and the few things an operator does to it.

Status of stage and prod, answering the prod approval, shipping a model bundle by hand, rolling an
environment back to the image it ran before, and the pipeline's recent history. The commands talk
to a `Delivery` backend (`ml_deploy_cli.delivery`); the AWS one lives in `ml_deploy_cli.aws`.
"""
