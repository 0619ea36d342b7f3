"""Development tools of ml-deploy: the local demo, the local AWS stand-in, sample data.

Never copied into an image (the Dockerfiles copy only `src/ml_deploy`), so these may import
`infra` and start processes; the shipped library must not import anything here.
"""
