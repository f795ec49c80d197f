# Stand-in for the digest-pinned python:3.11-slim-bookworm image, which no registry reachable here
# serves: Debian bookworm's own python3.11 (debootstrap), with `python` and `pip` on PATH and pip
# allowed to install into the system as in the official image. Built by deploy/images/python_base.py
# from rootfs.tar; only local builds use it (cloudbuild.yaml keeps the pinned image).
FROM scratch
ADD rootfs.tar /
ENV LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["python3"]
