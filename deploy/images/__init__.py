"""The images, built and run here with buildah (no Docker daemon): `make images`, the stack's
`WORKER_IMAGE`/`DASHBOARD_IMAGE`, and `make cloudbuild`. Stand-ins replace only what cannot be
fetched here: the Python base image and IB's and IBC's downloads (`standins.py`)."""
