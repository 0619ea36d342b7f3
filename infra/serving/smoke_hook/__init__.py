"""The deployment smoke hook's Lambda code: `handler.py`, zipped by Pulumi from this folder as it is."""
