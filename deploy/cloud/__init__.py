"""The Google Cloud set-up and teardown (`deploy/setup.sh`, `python -m deploy.cloud`).

One list of resources (resources.py and its parts), each with how to check, create, update and
delete it; planned against what exists, then applied through the gcloud CLI (plan.py, gcloud.py).
"""
