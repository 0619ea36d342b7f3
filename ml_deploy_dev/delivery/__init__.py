"""The delivery pipeline run on this machine, from the pipeline the Pulumi program defines.

`definition` reads the pipeline under the mocks, `source` / `build` / `approval` run its actions,
`standins` are the only stand-ins (`docker` and `aws` on the build's PATH), `proxy` is each
environment's stable address, and `runner` walks the stages. The operator CLI reads and answers
the run through its state file (`ml_deploy_cli.local`).
"""
