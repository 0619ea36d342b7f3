"""The delivery pipeline run on this machine, from the pipeline the Pulumi program defines.

`definition` reads the pipeline under the mocks, `source` / `build` / `approval` run its actions,
`standins` are the only stand-ins (`docker` and `aws` on the build's PATH), `tasks` and `ecs` run
and replace each environment's task as ECS does, `proxy` is each environment's stable address,
`runner` walks the stages, and `answers` performs what the operator CLI asks (rollback, deploy,
retry, release, a job). The CLI reads the run through the typed state both keep
(`ml_deploy_cli.local.records`) and never imports this package.
"""
